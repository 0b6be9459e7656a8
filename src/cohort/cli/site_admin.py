"""``cohort site enable`` / ``cohort site disable``: let a site in, or shut it out."""

from __future__ import annotations

from pathlib import Path

import click

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice, kit_options, open_api
from cohort.cli.output import emit, err_console

__all__ = ["disable", "enable"]


def _command(enabled: bool) -> click.Command:
    verb = "enable" if enabled else "disable"
    doc = (
        "Enable site NAME again."
        if enabled
        else "Disable site NAME: the server refuses its certificate until it is enabled."
    )

    @click.command(verb, cls=CohortCommand, mutating=True, idempotent=True, help=doc)
    @click.argument("name")
    @kit_options
    @format_choice("txt", "json")
    def command(name: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
        with open_api(kit_id, startup_kit) as api:
            record = api.set_site_enabled(name, enabled)
        emit(fmt, record.model_dump(), lambda: err_console.print(f"site {name}: {verb}d"))

    return command


enable = _command(True)
disable = _command(False)
