"""FedProx: FedAvg whose train tasks carry ``mu``, the weight of the proximal term the sites
add to their local loss (see :mod:`cohort.client.fedprox`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from cohort.client.fedprox import MU_KEY
from cohort.workflows.fedavg import FedAvg, FedAvgArgs

__all__ = ["FedProx", "FedProxArgs"]


class FedProxArgs(FedAvgArgs):
    """FedAvg's arguments plus ``mu``."""

    mu: float = Field(default=0.01, ge=0, description="Proximal term weight (0 is FedAvg).")


class FedProx(FedAvg):
    """FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", 2020)."""

    args_model: ClassVar[type[FedAvgArgs]] = FedProxArgs
    config: FedProxArgs

    def task_meta(self, round: int) -> dict[str, Any]:
        """Send ``mu`` with every train task."""
        return {MU_KEY: self.config.mu}
