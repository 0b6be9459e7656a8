"""``cohort config``: register admin startup kits and choose the active one.

The registry is ``$COHORT_HOME/config.toml`` (default ``~/.cohort``); job commands use the
active kit unless ``--kit-id``, ``--startup-kit`` or ``COHORT_STARTUP_KIT_DIR`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice
from cohort.cli.output import emit, err_console, out_console

__all__ = ["config"]


@click.group()
def config() -> None:
    """Manage the registered admin startup kits."""


@config.command("add", cls=CohortCommand, mutating=True, idempotent=True)
@click.argument("kit_id")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--no-activate", is_flag=True, help="Register without making it the active kit.")
@format_choice("txt", "json")
def add(kit_id: str, path: Path, no_activate: bool, fmt: str) -> None:
    """Register the admin startup kit folder PATH as KIT_ID (and make it active)."""
    from cohort.admin.kits import register_kit

    resolved = register_kit(kit_id, path, activate=not no_activate)
    data = {"kit_id": kit_id, "path": str(resolved), "active": not no_activate}

    def human() -> None:
        state = "active" if not no_activate else "registered"
        err_console.print(f"startup kit {kit_id} ({resolved}) {state}")

    emit(fmt, data, human)


@config.command("use", cls=CohortCommand, mutating=True, idempotent=True)
@click.argument("kit_id")
@format_choice("txt", "json")
def use(kit_id: str, fmt: str) -> None:
    """Make a registered kit the active one."""
    from cohort.admin.kits import use_kit

    path = use_kit(kit_id)
    emit(
        fmt,
        {"kit_id": kit_id, "path": str(path), "active": True},
        lambda: err_console.print(f"startup kit {kit_id} ({path}) is now active"),
    )


@config.command("list", cls=CohortCommand)
@format_choice("txt", "json")
def list_registered(fmt: str) -> None:
    """List registered kits; the active one is marked."""
    from cohort.admin.kits import ENV_KIT_DIR, list_kits

    active, ids = list_kits()
    kits = [{"kit_id": k, "path": p, "active": k == active} for k, p in sorted(ids.items())]
    env = os.environ.get(ENV_KIT_DIR) or None

    def human() -> None:
        if not kits:
            err_console.print("no startup kits registered: cohort config add <id> <admin kit>")
        else:
            table = Table("", "kit id", "path")
            for k in kits:
                table.add_row("*" if k["active"] else "", str(k["kit_id"]), str(k["path"]))
            out_console().print(table)
        if env:
            err_console.print(f"{ENV_KIT_DIR}={env} overrides the active kit")

    emit(fmt, {"active": active, "kits": kits, "env_startup_kit_dir": env}, human)


@config.command("remove", cls=CohortCommand, mutating=True, idempotent=False)
@click.argument("kit_id")
@format_choice("txt", "json")
def remove(kit_id: str, fmt: str) -> None:
    """Forget a registered kit (the kit folder itself is left alone)."""
    from cohort.admin.kits import remove_kit

    was_active = remove_kit(kit_id)

    def human() -> None:
        err_console.print(f"removed startup kit {kit_id}")
        if was_active:
            err_console.print("it was the active kit: choose another with cohort config use <id>")

    emit(fmt, {"kit_id": kit_id, "removed": True, "was_active": was_active}, human)
