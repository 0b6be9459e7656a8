"""PredictRecipe, ValidateRecipe and CommandRecipe: jobs of one task per site (no training).

Not in ``RECIPES``: they are how the edge API's predictions, validations and custom commands
run, not training algorithms."""

from __future__ import annotations

from typing import ClassVar

from cohort.recipes.fedavg import FedAvgRecipe
from cohort.workflows.fedavg import FedAvgArgs
from cohort.workflows.predict import CommandArgs, PredictArgs

__all__ = ["CommandRecipe", "PredictRecipe", "ValidateRecipe"]


class PredictRecipe(FedAvgRecipe):
    """FedAvgRecipe's arguments; ``initial_model`` (a workflow argument) is the model used."""

    workflow: ClassVar[str] = "predict"
    args_model: ClassVar[type[FedAvgArgs]] = PredictArgs


class ValidateRecipe(PredictRecipe):
    """The sites score ``initial_model`` (a workflow argument) with a ``validate`` task."""

    workflow: ClassVar[str] = "validate"


class CommandRecipe(FedAvgRecipe):
    """A custom command: ``task_meta`` (a workflow argument) is what each site receives."""

    workflow: ClassVar[str] = "command"
    args_model: ClassVar[type[FedAvgArgs]] = CommandArgs
