"""Recipes for the FedAvg-family workflows: each is :class:`FedAvgRecipe` with another
workflow and its parameters spelled out (see docs/algorithms.md)."""

from __future__ import annotations

from typing import Any, Literal

from cohort.aggregators.server_opt import OptimizerName
from cohort.recipes.fedavg import FedAvgRecipe
from cohort.workflows.cross_site import CrossSiteEvalArgs
from cohort.workflows.cyclic import CyclicArgs
from cohort.workflows.fedopt import FedAvgMArgs, FedOptArgs
from cohort.workflows.fedprox import FedProxArgs
from cohort.workflows.scaffold import ScaffoldArgs

__all__ = [
    "CrossSiteEvalRecipe",
    "CyclicRecipe",
    "FedAvgMRecipe",
    "FedOptRecipe",
    "FedProxRecipe",
    "ScaffoldRecipe",
]


class FedAvgMRecipe(FedAvgRecipe):
    """FedAvg with server momentum: ``v = momentum * v + delta; x += server_lr * v``."""

    workflow = "fedavgm"
    args_model = FedAvgMArgs

    def __init__(self, *, server_lr: float = 1.0, momentum: float = 0.9, **kw: Any) -> None:
        super().__init__(server_lr=server_lr, momentum=momentum, **kw)


class FedOptRecipe(FedAvgRecipe):
    """FedAvg with an adaptive server optimiser: ``optimizer`` is adam (FedAdam), yogi
    (FedYogi), adagrad (FedAdagrad), momentum or sgd."""

    workflow = "fedopt"
    args_model = FedOptArgs

    def __init__(
        self,
        *,
        optimizer: OptimizerName = "adam",
        server_lr: float = 0.01,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-3,
        **kw: Any,
    ) -> None:
        super().__init__(
            optimizer=optimizer, server_lr=server_lr, beta1=beta1, beta2=beta2, tau=tau, **kw
        )


class FedProxRecipe(FedAvgRecipe):
    """FedProx: train tasks carry ``mu``; the site script adds the proximal term with
    :mod:`cohort.client.fedprox`."""

    workflow = "fedprox"
    args_model = FedProxArgs

    def __init__(self, *, mu: float = 0.01, **kw: Any) -> None:
        super().__init__(mu=mu, **kw)


class ScaffoldRecipe(FedAvgRecipe):
    """SCAFFOLD: the site script uses :class:`cohort.client.scaffold.ScaffoldClient`."""

    workflow = "scaffold"
    args_model = ScaffoldArgs

    def __init__(self, *, server_lr: float = 1.0, **kw: Any) -> None:
        super().__init__(server_lr=server_lr, **kw)


class CyclicRecipe(FedAvgRecipe):
    """Cyclic weight transfer: each round the model visits every site in turn."""

    workflow = "cyclic"
    args_model = CyclicArgs

    def __init__(
        self, *, order: Literal["fixed", "random"] = "fixed", seed: int = 0, **kw: Any
    ) -> None:
        super().__init__(order=order, seed=seed, **kw)


class CrossSiteEvalRecipe(FedAvgRecipe):
    """FedAvg, then every site evaluates the global model and every site's model; the matrix
    is ``cross_site_eval.json`` in the job result."""

    workflow = "cross_site_eval"
    args_model = CrossSiteEvalArgs

    def __init__(self, *, evaluate_site_models: bool = True, **kw: Any) -> None:
        super().__init__(evaluate_site_models=evaluate_site_models, **kw)
