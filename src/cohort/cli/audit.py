"""``cohort audit``: read the server's audit log (who did what, when, with what outcome)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.table import Table

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice, kit_options, open_api
from cohort.cli.output import emit, out_console

__all__ = ["audit"]


@click.command("audit", cls=CohortCommand)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--user", default=None, help="Only this user's entries.")
@kit_options
@format_choice("txt", "json")
def audit(
    limit: int, user: str | None, kit_id: str | None, startup_kit: Path | None, fmt: str
) -> None:
    """Show the newest audit log entries first (project_admin and org_admin)."""
    with open_api(kit_id, startup_kit) as api:
        entries = api.audit_log(limit=limit, user=user)

    def human() -> None:
        table = Table("time (UTC)", "user", "role", "action", "target", "outcome", "detail")
        for e in entries:
            when = dt.datetime.fromtimestamp(e.time, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(when, e.user, e.role, e.action, e.target, e.outcome, e.detail)
        out_console().print(table)

    emit(fmt, {"entries": [e.model_dump() for e in entries]}, human)
