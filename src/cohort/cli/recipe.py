"""``cohort recipe list``: the built-in recipes (Python objects that export job folders)."""

from __future__ import annotations

import click
from rich.table import Column, Table

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice
from cohort.cli.output import emit, out_console
from cohort.recipes import RECIPES

__all__ = ["recipe"]


@click.group()
def recipe() -> None:
    """Discover the built-in job recipes."""


@recipe.command("list", cls=CohortCommand)
@format_choice("txt", "json")
def list_recipes(fmt: str) -> None:
    """List built-in recipes; export one with its example's job.py --export --export-dir DIR."""
    recipes = [vars(r) for r in RECIPES.values()]

    def human() -> None:
        table = Table(
            Column("recipe", no_wrap=True),
            Column("class", no_wrap=True),
            "example",
            "description",
        )
        for r in RECIPES.values():
            table.add_row(r.name, r.class_path, r.example, r.description)
        out_console().print(table)

    emit(fmt, {"recipes": recipes}, human)
