"""FedAvg: each round, sites train from the global model and their updates are combined (a
sample-weighted mean of the stored updates once they are in, or a robust rule), optionally on
a seeded sample of the sites. The FedAvg family (FedAvgM, FedOpt, FedProx, SCAFFOLD,
cross-site evaluation) builds on this class through its hooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cohort.aggregators.robust import RobustAggregator
from cohort.aggregators.tiled import TiledMean
from cohort.aggregators.weighted import weighted_metrics
from cohort.errors import CohortError
from cohort.schemas.records import UpdateRecord
from cohort.wire.tensors import FileTensors, TensorStream
from cohort.workflows.base import RoundOutcome, Workflow, WorkflowContext, WorkflowFailed
from cohort.workflows.sampling import sample_sites

__all__ = ["Aggregator", "FedAvg", "FedAvgArgs", "round_metrics"]

AggregatorName = Literal["weighted_mean", "median", "trimmed_mean", "krum", "multi_krum"]


class Aggregator(Protocol):
    """What a round folds updates into as they are handed over (:class:`WeightedMean`,
    :class:`RobustAggregator`, SCAFFOLD's); the weighted mean is a :class:`TiledMean`."""

    def add(self, tensors: Iterable[tuple[str, np.ndarray]], weight: float) -> None:
        """Fold one update in."""

    def result(self) -> dict[str, np.ndarray]:
        """The round's combined model."""


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
    aggregator: AggregatorName = Field(
        default="weighted_mean",
        description="How a round's updates combine: a sample-weighted mean (memory: a "
        "constant, read from the stored updates at the round's end), or a robust rule "
        "(median, trimmed_mean, krum, multi_krum; memory: every update of the round).",
    )
    trim_ratio: float = Field(
        default=0.1, ge=0, lt=0.5, description="trimmed_mean: share cut at each end."
    )
    num_byzantine: int = Field(
        default=1, ge=0, description="krum / multi_krum: Byzantine sites to tolerate (f)."
    )
    multi_krum_m: int | None = Field(
        default=None, ge=1, description="multi_krum: updates averaged (default n - f)."
    )
    sample_fraction: float | None = Field(
        default=None, gt=0, le=1, description="Share of the sites asked each round."
    )
    sample_count: int | None = Field(
        default=None, ge=1, description="Number of sites asked each round."
    )
    sample_seed: int = Field(default=0, description="Seed of the per-round site sample.")
    keep_rounds: int | None = Field(
        default=None,
        ge=1,
        description="Global models kept on the server: the last N rounds' (plus the best); "
        "None keeps every round's.",
    )
    best_metric: str | None = Field(
        default="accuracy",
        description="With keep_rounds: the round with the highest value of this metric is "
        "kept too.",
    )

    @model_validator(mode="after")
    def _one_sampling(self) -> FedAvgArgs:
        if self.sample_fraction is not None and self.sample_count is not None:
            raise ValueError("give sample_fraction or sample_count, not both")
        return self


class FedAvg(Workflow):
    """Federated averaging (McMahan et al., 2017)."""

    args_model: ClassVar[type[FedAvgArgs]] = FedAvgArgs
    resumable = True  # a round's global model is its whole state
    #: Whether next_global needs the previous global model in memory (FedOpt, SCAFFOLD).
    keeps_global_model: ClassVar[bool] = False

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        self.config = self.args_model.model_validate(args)
        # The current global model, for the rules that need it (keeps_global_model); plain
        # FedAvg does not hold it while it aggregates: the file is in the artifact store.
        self.global_params: dict[str, np.ndarray] = {}
        self.last_updates: list[UpdateRecord] = []  # the final round's results (records only)

    def run(self, ctx: WorkflowContext) -> None:
        """Run ``num_rounds`` rounds, then a validation of the final model."""
        cfg = self.config
        min_clients = cfg.min_clients or ctx.min_clients
        ctx.set_retention(cfg.keep_rounds, cfg.best_metric)
        resumed = ctx.checkpoint()
        if resumed is None:
            first, model_key = 1, self._initial_model(ctx)
        else:
            done, model_key, params = resumed
            self.global_params = params if self.keeps_global_model else {}
            first = done + 1
            ctx.log(f"resuming after round {done} of {cfg.num_rounds}")
        for rnd in range(first, cfg.num_rounds + 1):
            ctx.set_progress(rnd, cfg.num_rounds, f"round {rnd} of {cfg.num_rounds}: training")
            sites = sample_sites(
                ctx.sites,
                rnd,
                fraction=cfg.sample_fraction,
                count=cfg.sample_count,
                seed=cfg.sample_seed,
                minimum=min_clients,
            )
            agg = self.new_aggregator(ctx)

            def fold(update: UpdateRecord, agg: Aggregator | TiledMean = agg) -> None:
                weight = float(update.num_samples)
                if isinstance(agg, TiledMean):  # read when the round ends, from the file
                    agg.add_file(ctx.artifact_path(update.path), weight, key=update.site)
                else:
                    agg.add(ctx.read_update(update), weight)

            outcome = ctx.run_tasks(
                round=rnd,
                name="train",
                sites=sites,
                model_key=model_key,
                timeout=cfg.task_timeout,
                min_results=min(min_clients, len(sites)),
                wait_after_min=cfg.wait_after_min,
                on_result=fold,
                meta=self.task_meta(rnd),
            )
            self._check(outcome, rnd, min(min_clients, len(sites)), "train")
            # Metrics in train results describe the model each site received: round rnd-1's.
            ctx.set_round_metrics(rnd - 1, round_metrics(outcome.updates))
            self.last_updates = list(outcome.updates)
            total = sum(u.num_samples for u in outcome.updates)
            model_key = self._next_model(ctx, rnd, agg, len(outcome.updates), total)
            ctx.log(
                f"round {rnd}: aggregated {len(outcome.updates)} updates ({total} samples) "
                f"from {len(sites)} sampled site(s){self._describe_aggregation(agg)}"
            )
        if cfg.final_validation:
            ctx.set_progress(cfg.num_rounds, cfg.num_rounds, "validating the final model")
            outcome = self._validate(ctx, cfg.num_rounds, model_key, ctx.sites)
            ctx.set_round_metrics(cfg.num_rounds, round_metrics(outcome.updates))
        self.after_training(ctx, model_key)

    # Hooks for the FedAvg family.

    def new_aggregator(self, ctx: WorkflowContext) -> Aggregator | TiledMean:
        """The round's aggregator, from ``aggregator`` in the args."""
        cfg = self.config
        if cfg.aggregator == "weighted_mean":
            return TiledMean()
        return RobustAggregator(
            cfg.aggregator,
            trim_ratio=cfg.trim_ratio,
            num_byzantine=cfg.num_byzantine,
            multi_krum_m=cfg.multi_krum_m,
        )

    def task_meta(self, round: int) -> dict[str, Any]:
        """Extra facts a train task carries to the sites (``FLModel.meta``)."""
        return {}

    def next_global(self, combined: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The next global model from the round's combined model (FedAvg: that model)."""
        return combined

    def prepare_initial(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The round-0 global model from the initial model (SCAFFOLD adds its controls)."""
        return params

    def after_training(self, ctx: WorkflowContext, model_key: str) -> None:
        """Runs once the rounds (and final validation) are done."""

    # Shared steps.

    def _next_model(
        self,
        ctx: WorkflowContext,
        rnd: int,
        agg: Aggregator | TiledMean,
        num_updates: int,
        num_samples: int,
    ) -> str:
        """Combine the round's updates into the next global model and store it; its key."""
        try:
            if isinstance(agg, TiledMean) and self._streams_mean():
                return self._save(ctx, rnd, agg, num_updates, num_samples)
            params = self.next_global(agg.result())
        except CohortError as exc:  # e.g. too few updates for Krum: fail the job, clearly
            raise WorkflowFailed(f"round {rnd}: aggregation failed: {exc}") from exc
        return self._save(ctx, rnd, params, num_updates, num_samples)  # params not kept

    def _streams_mean(self) -> bool:
        """Whether the next global model is the mean itself, so that it goes tile by tile
        from the stored updates into the model's file and the job process never holds the
        model. Rules that need it in memory (next_global overridden: FedOpt, SCAFFOLD) get
        arrays instead."""
        return not self.keeps_global_model and type(self).next_global is FedAvg.next_global

    def _save(
        self,
        ctx: WorkflowContext,
        rnd: int,
        params: dict[str, np.ndarray] | TensorStream,
        num_updates: int,
        num_samples: int,
    ) -> str:
        key = ctx.save_global_model(rnd, params, num_updates, num_samples)
        if self.keeps_global_model and isinstance(params, dict):
            self.global_params = params
        return key

    def _validate(
        self,
        ctx: WorkflowContext,
        rnd: int,
        model_key: str,
        sites: list[str],
        meta: dict[str, Any] | None = None,
    ) -> RoundOutcome:
        outcome = ctx.run_tasks(
            round=rnd,
            name="validate",
            sites=sites,
            model_key=model_key,
            timeout=self.config.task_timeout,
            min_results=1,
            wait_after_min=self.config.wait_after_min,
            on_result=lambda update: None,
            meta=meta,
        )
        self._check(outcome, rnd, 1, "validate")
        return outcome

    def _initial_model(self, ctx: WorkflowContext) -> str:
        # Plain FedAvg copies the initial model into round 0's file piece by piece; rules
        # that change it (prepare_initial) or keep it (FedOpt) load it.
        copied = not self.keeps_global_model and (
            type(self).prepare_initial is FedAvg.prepare_initial
        )
        if self.config.initial_model:
            if copied:
                model = FileTensors(ctx.app_model_path(self.config.initial_model))
                return self._save(ctx, 0, model, 0, 0)
            params = ctx.load_app_model(self.config.initial_model)
            return self._save(ctx, 0, self.prepare_initial(params), 0, 0)
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
                if copied:
                    return self._save(ctx, 0, FileTensors(ctx.artifact_path(got[0].path)), 0, 0)
                params = self.prepare_initial(dict(ctx.read_update(got[0])))
                return self._save(ctx, 0, params, 0, 0)
            failures.update(outcome.failures)
        raise WorkflowFailed(f"no site supplied an initial model: {_describe(failures)}")

    @staticmethod
    def _describe_aggregation(agg: Aggregator | TiledMean) -> str:
        if isinstance(agg, RobustAggregator):
            chosen = f", selected updates {agg.selected}" if agg.selected else ""
            return f" by {agg.rule}{chosen}"
        return ""

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


def round_metrics(updates: list[UpdateRecord]) -> dict[str, float]:
    """Sample-weighted mean of the metrics the results carry."""
    return weighted_metrics((u.metrics, float(max(u.num_samples, 1))) for u in updates)


def _describe(failures: dict[str, str]) -> str:
    if not failures:
        return "no site failed, but too few answered in time"
    return "; ".join(f"{site}: {why}" for site, why in sorted(failures.items()))
