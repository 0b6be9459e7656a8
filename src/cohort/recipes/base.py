"""What every recipe is, and the registry ``cohort recipe list`` shows."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RECIPES", "Recipe", "RecipeInfo"]


class Recipe(abc.ABC):
    """A job described in Python; :meth:`export` writes it as a job folder."""

    @abc.abstractmethod
    def export(self, job_dir: str | Path) -> Path:
        """Write the job folder (meta.json, app/config/*.json, app/custom/...) to ``job_dir``,
        which must not exist or be empty; return its path."""


@dataclass(frozen=True)
class RecipeInfo:
    """A built-in recipe as ``cohort recipe list`` shows it."""

    name: str
    class_path: str
    workflow: str
    description: str
    example: str


#: Built-in recipes, by name.
RECIPES: dict[str, RecipeInfo] = {
    "fedavg": RecipeInfo(
        name="fedavg",
        class_path="cohort.recipes.FedAvgRecipe",
        workflow="fedavg",
        description="Federated averaging: each round, sites train the global model on their "
        "data and the server averages their updates, weighted by sample count.",
        example="examples/hello-numpy/job.py",
    ),
}
