"""Deprecated ``cohort job`` commands, kept so old scripts get a clear answer.

``list_templates`` still lists (the built-in recipes, which replaced templates);
``show_variables`` still shows a job folder's configurable values; ``create`` no longer creates
anything and fails with COMMAND_DEPRECATED (exit 4), naming what replaced it. Each prints its
deprecation notice on stderr, and in JSON under ``data.deprecation``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice
from cohort.cli.output import emit, emit_error, err_console, out_console
from cohort.errors import ErrorCode
from cohort.jobfolder import CLIENT_CONFIG, SERVER_CONFIG
from cohort.recipes import RECIPES

__all__ = ["create", "list_templates", "show_variables"]

CREATE_REPLACEMENT = (
    "python job.py --export --export-dir <job_folder>  then  cohort job submit -j <job_folder>"
)


def _notice(command: str, replacement: str) -> dict[str, str]:
    err_console.print(
        f"[yellow]DEPRECATED[/yellow] `cohort job {command}`: use `{replacement}`", markup=True
    )
    return {"command": f"cohort job {command}", "replacement": replacement}


@click.command("list_templates", cls=CohortCommand)
@format_choice("txt", "json")
def list_templates(fmt: str) -> None:
    """[DEPRECATED] use 'cohort recipe list'."""
    notice = _notice("list_templates", "cohort recipe list")
    recipes = [vars(r) for r in RECIPES.values()]

    def human() -> None:
        table = Table("recipe", "class", "description")
        for r in RECIPES.values():
            table.add_row(r.name, r.class_path, r.description)
        out_console().print(table)

    emit(fmt, {"deprecation": notice, "recipes": recipes}, human)


@click.command(
    "create",
    cls=CohortCommand,
    mutating=True,
    idempotent=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("legacy_args", nargs=-1, type=click.UNPROCESSED)
@format_choice("txt", "json")
def create(legacy_args: tuple[str, ...], fmt: str) -> None:
    """[DEPRECATED] use 'python job.py --export --export-dir <job_folder>' +
    'cohort job submit -j <job_folder>'."""
    notice = _notice("create", CREATE_REPLACEMENT)
    emit_error(
        fmt,
        ErrorCode.COMMAND_DEPRECATED,
        "`cohort job create` is deprecated: job folders come from recipes now",
        f"Use: {CREATE_REPLACEMENT} (see `cohort recipe list`).",
        {"deprecation": notice, "ignored_arguments": list(legacy_args)},
    )


@click.command("show_variables", cls=CohortCommand)
@click.option(
    "-j",
    "--job_folder",
    "--job-folder",
    "job_folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("./current_job"),
    show_default=True,
    help="The job folder whose variables to show.",
)
@format_choice("txt", "json")
def show_variables(job_folder: Path, fmt: str) -> None:
    """[DEPRECATED] use 'cohort recipe list' or the Job Recipe API."""
    notice = _notice("show_variables", "cohort recipe list, or the recipe's Python arguments")
    if not (job_folder / "meta.json").is_file():
        emit_error(
            fmt,
            ErrorCode.JOB_META_MISSING,
            f"{job_folder} has no meta.json",
            "Point -j at a job folder.",
            {"deprecation": notice},
        )
    variables: dict[str, Any] = {"meta.json": _read(job_folder / "meta.json")}
    for app in sorted(p for p in job_folder.iterdir() if p.is_dir()):
        for rel in (SERVER_CONFIG, CLIENT_CONFIG):
            if (app / rel).is_file():
                variables[f"{app.name}/{rel}"] = _read(app / rel)

    def human() -> None:
        for name, values in variables.items():
            click.echo(f"{name}:")
            click.echo(json.dumps(values, indent=2))

    emit(fmt, {"deprecation": notice, "job_folder": str(job_folder), "variables": variables}, human)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        return {"error": f"not valid JSON: {exc}"}
