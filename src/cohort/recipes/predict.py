"""PredictRecipe: a job that sends one model to the sites as a ``predict`` task (no training).

Not in ``RECIPES``: it is how the edge API's predictions run, not a training algorithm."""

from __future__ import annotations

from typing import ClassVar

from cohort.recipes.fedavg import FedAvgRecipe
from cohort.workflows.fedavg import FedAvgArgs
from cohort.workflows.predict import PredictArgs

__all__ = ["PredictRecipe"]


class PredictRecipe(FedAvgRecipe):
    """FedAvgRecipe's arguments; ``initial_model`` (a workflow argument) is the model used."""

    workflow: ClassVar[str] = "predict"
    args_model: ClassVar[type[FedAvgArgs]] = PredictArgs
