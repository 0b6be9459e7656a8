"""Recipes: Python objects that write a job folder (``recipe.export(dir)``), the way to make
a job that ``cohort job submit -j dir`` takes. ``JobLogStreamer`` and ``JobLogReceiver`` are the
components that stream a job's site logs to the server (``recipe.job.to_clients(...)``)."""

from cohort.recipes.algorithms import (
    CrossSiteEvalRecipe,
    CyclicRecipe,
    FedAvgMRecipe,
    FedOptRecipe,
    FedProxRecipe,
    ScaffoldRecipe,
)
from cohort.recipes.base import RECIPES, JobComponents, Recipe, RecipeInfo
from cohort.recipes.fedavg import FedAvgRecipe
from cohort.schemas.job import JobLogReceiver, JobLogStreamer

__all__ = [
    "RECIPES",
    "CrossSiteEvalRecipe",
    "CyclicRecipe",
    "FedAvgMRecipe",
    "FedAvgRecipe",
    "FedOptRecipe",
    "FedProxRecipe",
    "JobComponents",
    "JobLogReceiver",
    "JobLogStreamer",
    "Recipe",
    "RecipeInfo",
    "ScaffoldRecipe",
]
