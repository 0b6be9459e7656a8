"""One task per site, no training: ``predict`` (send a model, keep the sites' prediction
metrics), ``validate`` (send a model, keep the sites' scores of it) and ``command`` (a custom
command with parameters in the task's meta).

These are what the edge API's predictions (``predictions/start``), validations
(``validations/start``) and custom commands (``control/run_command``) run; each site's
answer is stored as that site's update of the job.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import WorkflowContext, WorkflowFailed
from cohort.workflows.fedavg import FedAvg, FedAvgArgs

__all__ = [
    "COMMAND",
    "PREDICT",
    "VALIDATE",
    "Command",
    "CommandArgs",
    "Predict",
    "PredictArgs",
    "Validate",
]

#: The task names sites see (``cohort.client.is_predict()``, ``is_command()``).
PREDICT = "predict"
COMMAND = "command"
VALIDATE = "validate"  # the task FedAvg's final validation sends (cohort.client.is_evaluate)


class CommandArgs(FedAvgArgs):
    """FedAvg's arguments plus the meta every site's task carries."""

    task_meta: dict[str, Any] = Field(default_factory=dict)


class PredictArgs(CommandArgs):
    """``initial_model`` (required) is the model predicted with."""

    @model_validator(mode="after")
    def _needs_model(self) -> PredictArgs:
        if not self.initial_model:
            raise ValueError("initial_model names the model to predict with")
        return self


class Predict(FedAvg):
    """One ``predict`` task per site with the app's model."""

    args_model: ClassVar[type[FedAvgArgs]] = PredictArgs
    task_name: ClassVar[str] = PREDICT
    config: CommandArgs

    def run(self, ctx: WorkflowContext) -> None:
        """Ask every site, wait for each answer (or the task timeout)."""
        cfg = self.config
        key = ""
        if cfg.initial_model:
            key = ctx.save_model("task-model", ctx.load_app_model(cfg.initial_model))
        ctx.set_progress(1, 1, f"{self.task_name} on {len(ctx.sites)} sites")
        got: list[UpdateRecord] = []
        outcome = ctx.run_tasks(
            round=1,
            name=self.task_name,
            sites=list(ctx.sites),
            model_key=key,
            timeout=cfg.task_timeout,
            min_results=len(ctx.sites),
            wait_after_min=0.0,
            on_result=got.append,
            meta=cfg.task_meta,
        )
        if outcome.failures:
            raise WorkflowFailed(f"{self.task_name} failed on sites: {outcome.failures}")
        ctx.log(f"{self.task_name}: answers from {len(got)} sites")


class Validate(Predict):
    """One ``validate`` task per site with the app's model: the sites score it."""

    task_name: ClassVar[str] = VALIDATE


class Command(Predict):
    """One ``command`` task per site; the command and its parameters are in the task meta."""

    args_model: ClassVar[type[FedAvgArgs]] = CommandArgs
    task_name: ClassVar[str] = COMMAND
