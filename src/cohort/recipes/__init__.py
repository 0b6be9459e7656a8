"""Recipes: Python objects that write a job folder (``recipe.export(dir)``), the way to make
a job that ``cohort job submit -j dir`` takes."""

from cohort.recipes.algorithms import (
    CrossSiteEvalRecipe,
    CyclicRecipe,
    FedAvgMRecipe,
    FedOptRecipe,
    FedProxRecipe,
    ScaffoldRecipe,
)
from cohort.recipes.base import RECIPES, Recipe, RecipeInfo
from cohort.recipes.fedavg import FedAvgRecipe

__all__ = [
    "RECIPES",
    "CrossSiteEvalRecipe",
    "CyclicRecipe",
    "FedAvgMRecipe",
    "FedAvgRecipe",
    "FedOptRecipe",
    "FedProxRecipe",
    "Recipe",
    "RecipeInfo",
    "ScaffoldRecipe",
]
