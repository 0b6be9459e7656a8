"""Predict: send one model to the sites as a ``predict`` task and keep what they answer.

What an edge prediction run is (``POST predictions/start``): no training, no new global model;
each site's answer (its prediction metrics) is stored as that site's update of the job.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator

from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import WorkflowContext, WorkflowFailed
from cohort.workflows.fedavg import FedAvg, FedAvgArgs

__all__ = ["PREDICT", "Predict", "PredictArgs"]

#: The task name sites see (``cohort.client.is_predict()``).
PREDICT = "predict"


class PredictArgs(FedAvgArgs):
    """FedAvg's arguments; ``initial_model`` (required) is the model predicted with."""

    @model_validator(mode="after")
    def _needs_model(self) -> PredictArgs:
        if not self.initial_model:
            raise ValueError("initial_model names the model to predict with")
        return self


class Predict(FedAvg):
    """One ``predict`` task per site with the app's model."""

    args_model: ClassVar[type[FedAvgArgs]] = PredictArgs

    def run(self, ctx: WorkflowContext) -> None:
        """Ask every site, wait for each answer (or the task timeout)."""
        cfg = self.config
        assert cfg.initial_model is not None  # checked by PredictArgs
        key = ctx.save_model("predict-model", ctx.load_app_model(cfg.initial_model))
        ctx.set_progress(1, 1, f"predicting on {len(ctx.sites)} sites")
        got: list[UpdateRecord] = []
        outcome = ctx.run_tasks(
            round=1,
            name=PREDICT,
            sites=list(ctx.sites),
            model_key=key,
            timeout=cfg.task_timeout,
            min_results=len(ctx.sites),
            wait_after_min=0.0,
            on_result=got.append,
        )
        if not got:
            raise WorkflowFailed(f"no site answered the predict task: {outcome.failures}")
        ctx.log(f"predictions from {len(got)} sites; failed: {sorted(outcome.failures)}")
