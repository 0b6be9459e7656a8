"""FedOpt: FedAvg whose global model moves by a server optimiser (FedAvgM, FedAdam, FedYogi,
FedAdagrad) fed with the round's pseudo-gradient. See :mod:`cohort.aggregators.server_opt`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from cohort.aggregators.server_opt import OptimizerName, ServerOptimizer
from cohort.workflows.fedavg import FedAvg, FedAvgArgs

__all__ = [
    "FedAdagrad",
    "FedAdam",
    "FedAvgM",
    "FedOpt",
    "FedOptArgs",
    "FedYogi",
]


class FedOptArgs(FedAvgArgs):
    """FedAvg's arguments plus the server optimiser's."""

    optimizer: OptimizerName = Field(
        default="adam", description="sgd, momentum (FedAvgM), adam, yogi or adagrad."
    )
    server_lr: float = Field(default=0.01, gt=0, description="Server learning rate (eta).")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="FedAvgM: server momentum.")
    beta1: float = Field(default=0.9, ge=0, lt=1, description="Adaptive: first-moment decay.")
    beta2: float = Field(default=0.99, ge=0, lt=1, description="Adaptive: second-moment decay.")
    tau: float = Field(default=1e-3, gt=0, description="Adaptive: degree of adaptivity.")


class FedAvgMArgs(FedOptArgs):
    """FedAvgM: server momentum; ``server_lr`` 1 and ``momentum`` 0 is plain FedAvg."""

    optimizer: Literal["momentum"] = "momentum"
    server_lr: float = Field(default=1.0, gt=0)


class FedAdamArgs(FedOptArgs):
    """FedAdam."""

    optimizer: Literal["adam"] = "adam"


class FedYogiArgs(FedOptArgs):
    """FedYogi."""

    optimizer: Literal["yogi"] = "yogi"


class FedAdagradArgs(FedOptArgs):
    """FedAdagrad."""

    optimizer: Literal["adagrad"] = "adagrad"


class FedOpt(FedAvg):
    """FedAvg with a server optimiser (Reddi et al., 2021; Hsu et al., 2019)."""

    keeps_global_model = True

    args_model: ClassVar[type[FedAvgArgs]] = FedOptArgs
    resumable = False  # keeps state beyond the global model (see Workflow.resumable)
    config: FedOptArgs

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        cfg = self.config
        self.optimizer = ServerOptimizer(
            cfg.optimizer,
            server_lr=cfg.server_lr,
            momentum=cfg.momentum,
            beta1=cfg.beta1,
            beta2=cfg.beta2,
            tau=cfg.tau,
        )

    def next_global(self, combined: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Move the global model by the optimiser's step on ``combined - global``."""
        return self.optimizer.step(self.global_params, combined)


class FedAvgM(FedOpt):
    """FedAvg with server momentum (Hsu et al., 2019)."""

    args_model = FedAvgMArgs


class FedAdam(FedOpt):
    """FedAdam (Reddi et al., 2021)."""

    args_model = FedAdamArgs


class FedYogi(FedOpt):
    """FedYogi (Reddi et al., 2021)."""

    args_model = FedYogiArgs


class FedAdagrad(FedOpt):
    """FedAdagrad (Reddi et al., 2021)."""

    args_model = FedAdagradArgs
