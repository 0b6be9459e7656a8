"""FedAvg: each round, sites train from the global model and their updates are averaged,
weighted by sample count, as they arrive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cohort.aggregators.weighted import WeightedMean, weighted_metrics
from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import RoundOutcome, Workflow, WorkflowContext, WorkflowFailed

__all__ = ["FedAvg", "FedAvgArgs"]


class FedAvgArgs(BaseModel):
    """Arguments of the FedAvg workflow (``args`` in config_fed_server.json)."""

    model_config = ConfigDict(extra="forbid")

    num_rounds: int = Field(default=5, ge=1, le=100_000)
    min_clients: int | None = Field(
        default=None, ge=1, description="Updates a round needs; defaults to the job's min_clients."
    )
    task_timeout: float = Field(default=600.0, gt=0, description="Seconds a site has per task.")
    wait_after_min: float = Field(
        default=10.0,
        ge=0,
        description="Seconds to wait for more updates once min_clients have answered.",
    )
    initial_model: str | None = Field(
        default=None,
        description="safetensors file in the server app folder; else the first site's model.",
    )
    final_validation: bool = Field(
        default=True, description="Ask sites to evaluate the final global model."
    )


class FedAvg(Workflow):
    """Federated averaging (McMahan et al., 2017)."""

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        self.config = FedAvgArgs.model_validate(args)

    def run(self, ctx: WorkflowContext) -> None:
        """Run ``num_rounds`` rounds, then a validation of the final model."""
        cfg = self.config
        min_clients = cfg.min_clients or ctx.min_clients
        model_key = self._initial_model(ctx)
        for rnd in range(1, cfg.num_rounds + 1):
            ctx.set_progress(rnd, cfg.num_rounds, f"round {rnd} of {cfg.num_rounds}: training")
            agg = WeightedMean()

            def fold(update: UpdateRecord, agg: WeightedMean = agg) -> None:
                agg.add(ctx.read_update(update), float(update.num_samples))

            outcome = ctx.run_tasks(
                round=rnd,
                name="train",
                sites=ctx.sites,
                model_key=model_key,
                timeout=cfg.task_timeout,
                min_results=min_clients,
                wait_after_min=cfg.wait_after_min,
                on_result=fold,
            )
            self._check(outcome, rnd, min_clients, "train")
            # Metrics in train results describe the model each site received: round rnd-1's.
            ctx.set_round_metrics(rnd - 1, _metrics(outcome))
            total = sum(u.num_samples for u in outcome.updates)
            model_key = ctx.save_global_model(rnd, agg.result(), len(outcome.updates), total)
            ctx.log(f"round {rnd}: aggregated {len(outcome.updates)} updates ({total} samples)")
        if cfg.final_validation:
            ctx.set_progress(cfg.num_rounds, cfg.num_rounds, "validating the final model")
            outcome = ctx.run_tasks(
                round=cfg.num_rounds,
                name="validate",
                sites=ctx.sites,
                model_key=model_key,
                timeout=cfg.task_timeout,
                min_results=1,
                wait_after_min=cfg.wait_after_min,
                on_result=lambda update: None,
            )
            self._check(outcome, cfg.num_rounds, 1, "validate")
            ctx.set_round_metrics(cfg.num_rounds, _metrics(outcome))

    def _initial_model(self, ctx: WorkflowContext) -> str:
        if self.config.initial_model:
            params = ctx.load_app_model(self.config.initial_model)
            return ctx.save_global_model(0, params, 0, 0)
        # No file: ask sites in turn for their initial model; the first answer wins.
        failures: dict[str, str] = {}
        for site in ctx.sites:
            got: list[UpdateRecord] = []
            outcome = ctx.run_tasks(
                round=0,
                name="submit_model",
                sites=[site],
                model_key="",
                timeout=self.config.task_timeout,
                min_results=1,
                wait_after_min=0.0,
                on_result=got.append,
            )
            if outcome.aborted:
                raise WorkflowFailed("job aborted while fetching the initial model")
            if got:
                return ctx.save_global_model(0, dict(ctx.read_update(got[0])), 0, 0)
            failures.update(outcome.failures)
        raise WorkflowFailed(f"no site supplied an initial model: {_describe(failures)}")

    @staticmethod
    def _check(outcome: RoundOutcome, rnd: int, needed: int, task: str) -> None:
        if outcome.aborted:
            raise WorkflowFailed("job aborted")
        got = len(outcome.updates)
        if got < needed:
            raise WorkflowFailed(
                f"round {rnd} ({task}): {got} site(s) returned a result, {needed} needed; "
                f"{_describe(outcome.failures)}"
            )


def _metrics(outcome: RoundOutcome) -> dict[str, float]:
    return weighted_metrics((u.metrics, float(max(u.num_samples, 1))) for u in outcome.updates)


def _describe(failures: dict[str, str]) -> str:
    if not failures:
        return "no site failed, but too few answered in time"
    return "; ".join(f"{site}: {why}" for site, why in sorted(failures.items()))
