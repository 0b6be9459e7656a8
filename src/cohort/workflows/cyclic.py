"""Cyclic weight transfer: the model travels from site to site, each training it in turn.

A round is one pass over the sites (in a fixed order, or a seeded shuffle per round): site 1
trains the global model, site 2 trains site 1's result, and so on; the last result is the
round's global model (Chang et al., "Distributed deep learning networks among institutions
for medical imaging", JAMIA 2018). A site that fails or times out is skipped and the model
goes on from the last good result. Memory is one model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import WorkflowContext, WorkflowFailed
from cohort.workflows.fedavg import FedAvg, FedAvgArgs, round_metrics

__all__ = ["Cyclic", "CyclicArgs"]


class CyclicArgs(FedAvgArgs):
    """FedAvg's arguments (aggregation and sampling ones unused) plus the visiting order."""

    order: Literal["fixed", "random"] = Field(
        default="fixed", description="Visit the sites in name order, or shuffled each round."
    )
    seed: int = Field(default=0, description="Seed of the random order.")

    @model_validator(mode="after")
    def _no_aggregation(self) -> CyclicArgs:
        if self.aggregator != "weighted_mean" or self.sample_fraction or self.sample_count:
            raise ValueError(
                "cyclic visits every site and aggregates nothing: drop "
                "aggregator, sample_fraction and sample_count"
            )
        return self


class Cyclic(FedAvg):
    """Cyclic weight transfer."""

    args_model = CyclicArgs
    resumable = False  # keeps state beyond the global model (see Workflow.resumable)
    config: CyclicArgs

    def run(self, ctx: WorkflowContext) -> None:
        """Run ``num_rounds`` passes over the sites, then a validation of the final model."""
        cfg = self.config
        model_key = self._initial_model(ctx)
        for rnd in range(1, cfg.num_rounds + 1):
            order = self.site_order(ctx.sites, rnd)
            answers: list[UpdateRecord] = []
            current = model_key
            last: dict[str, np.ndarray] = {}
            for step, site in enumerate(order, start=1):
                ctx.set_progress(
                    rnd, cfg.num_rounds, f"round {rnd} of {cfg.num_rounds}: {site} trains"
                )
                got: list[UpdateRecord] = []
                outcome = ctx.run_tasks(
                    round=rnd,
                    name="train",
                    sites=[site],
                    model_key=current,
                    timeout=cfg.task_timeout,
                    min_results=1,
                    wait_after_min=0.0,
                    on_result=got.append,
                    meta={"cyclic_step": step, "cyclic_steps": len(order)},
                )
                if outcome.aborted:
                    raise WorkflowFailed("job aborted")
                if not got:
                    ctx.log(f"round {rnd}: {site} skipped: {outcome.failures.get(site, '?')}")
                    continue
                answers.append(got[0])
                # Re-saved as a model, so the next site gets the weights and no one's metrics.
                last = dict(ctx.read_update(got[0]))
                # Two names in turn: a finished step's file is free again (disk: 2 models).
                current = ctx.save_model(f"cyclic-{step % 2}", last)
            if not answers:
                raise WorkflowFailed(f"round {rnd}: no site returned a result")
            # Each site scored the model it received; averaged, they describe the round's start.
            ctx.set_round_metrics(rnd - 1, round_metrics(answers))
            total = sum(u.num_samples for u in answers)
            model_key = self._save(ctx, rnd, last, len(answers), total)
            ctx.log(f"round {rnd}: {len(answers)} of {len(order)} sites trained in turn")
        if cfg.final_validation:
            ctx.set_progress(cfg.num_rounds, cfg.num_rounds, "validating the final model")
            outcome = self._validate(ctx, cfg.num_rounds, model_key, ctx.sites)
            ctx.set_round_metrics(cfg.num_rounds, round_metrics(outcome.updates))

    def site_order(self, sites: list[str], round: int) -> list[str]:
        """The sites in the order round ``round`` visits them."""
        ordered = sorted(sites)
        if self.config.order == "fixed":
            return ordered
        rng = np.random.default_rng([self.config.seed, round])
        return [ordered[int(i)] for i in rng.permutation(len(ordered))]
