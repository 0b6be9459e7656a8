"""SCAFFOLD: FedAvg with control variates on both sides (Karimireddy et al., 2020).

The global model carries the server control variate ``c`` next to the weights ``x`` (tensor
``scaffold_c.<name>``, zero in round 0); a site answers with its trained weights ``y_i`` and
its control change ``dc_i`` under the same names (see :mod:`cohort.client.scaffold`). The
server then takes, over the ``|S|`` sites that answered out of ``N``:

- ``x <- x + server_lr * (mean_w(y_i) - x)``, ``mean_w`` weighted by sample count, as FedAvg;
- ``c <- c + |S| / N * mean(dc_i)``, an unweighted mean, as in the paper.

Memory is O(model): two running sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from cohort.aggregators.weighted import WeightedMean
from cohort.client.scaffold import CONTROL_PREFIX, split_controls
from cohort.workflows.base import WorkflowContext
from cohort.workflows.fedavg import Aggregator, FedAvg, FedAvgArgs

__all__ = ["Scaffold", "ScaffoldAggregator", "ScaffoldArgs"]


class ScaffoldArgs(FedAvgArgs):
    """FedAvg's arguments plus the server learning rate."""

    server_lr: float = Field(default=1.0, gt=0, description="Global step size (eta_g).")

    @model_validator(mode="after")
    def _mean_only(self) -> ScaffoldArgs:
        if self.aggregator != "weighted_mean":
            raise ValueError("SCAFFOLD aggregates with weighted_mean only")
        return self


class ScaffoldAggregator:
    """Running sums of a round's weights (sample-weighted) and control changes (uniform)."""

    def __init__(self, num_sites: int) -> None:
        self.num_sites = num_sites
        self.weights = WeightedMean()
        self.controls = WeightedMean()

    def add(self, tensors: Iterable[tuple[str, np.ndarray]], weight: float) -> None:
        """Fold one site's answer in (one update in memory at a time)."""
        params, controls = split_controls(dict(tensors))
        self.weights.add(params.items(), weight)
        self.controls.add(controls.items(), 1.0)

    def result(self) -> dict[str, np.ndarray]:
        """Weights' mean, and ``|S| / N * mean(dc_i)`` under the control names."""
        out = self.weights.result()
        share = self.controls.count / self.num_sites
        for name, mean_dc in self.controls.result().items():
            out[CONTROL_PREFIX + name] = (share * mean_dc.astype(np.float64)).astype(mean_dc.dtype)
        return out


class Scaffold(FedAvg):
    """SCAFFOLD: stochastic controlled averaging (Karimireddy et al., 2020)."""

    keeps_global_model = True

    args_model: ClassVar[type[FedAvgArgs]] = ScaffoldArgs
    resumable = False  # keeps state beyond the global model (see Workflow.resumable)
    config: ScaffoldArgs

    def prepare_initial(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add a zero control variate per weight."""
        weights, _ = split_controls(params)
        return {**weights, **{CONTROL_PREFIX + k: np.zeros_like(v) for k, v in weights.items()}}

    def new_aggregator(self, ctx: WorkflowContext) -> Aggregator:
        """Two running sums; ``N`` is the job's site count."""
        return ScaffoldAggregator(len(ctx.sites))

    def next_global(self, combined: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Step the weights by ``server_lr`` toward their mean; add the control change."""
        weights, dc = split_controls(combined)
        old_x, old_c = split_controls(self.global_params)
        lr = self.config.server_lr
        out: dict[str, Any] = {}
        for name, mean_y in weights.items():
            x = old_x[name].astype(np.float64)
            if lr == 1.0:
                out[name] = mean_y  # exactly the mean, as FedAvg
            else:
                out[name] = (x + lr * (mean_y.astype(np.float64) - x)).astype(mean_y.dtype)
            c = old_c[name].astype(np.float64) + dc[name].astype(np.float64)
            out[CONTROL_PREFIX + name] = c.astype(old_c[name].dtype)
        return out
