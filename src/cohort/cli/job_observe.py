"""``cohort job logs``, ``cohort job log-config`` and ``cohort job stats``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cohort.cli.command import CohortCommand
from cohort.cli.logbounds import (
    DEFAULT_TAIL,
    bound_log,
    line_time,
    parse_since,
    record_time,
    render_json_log,
)
from cohort.cli.options import format_choice, kit_options, open_api, site_option, study_option
from cohort.cli.output import emit, err_console, iso, out_console
from cohort.cli.views import display_status
from cohort.errors import CohortError, ErrorCode
from cohort.schemas.admin import LOG_LEVELS, LOG_MODES, JobLogs, JobStats

__all__ = ["log_config", "logs", "stats"]


def _check_since(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("logs", cls=CohortCommand)
@click.argument("job_id")
@study_option
@site_option("server", "server (the job's server log), a site name, or all.")
@click.option(
    "--tail", type=click.IntRange(min=0), default=None, help="At most the last N lines per site."
)
@click.option(
    "--since",
    default=None,
    callback=_check_since,
    help="Timestamped lines at or after this time (ISO 8601), with their continuation lines.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="At most N UTF-8 bytes per site (the newest).",
)
@kit_options
@format_choice("txt", "json")
def logs(
    job_id: str,
    study: str,
    site: str,
    tail: int | None,
    since: datetime | None,
    max_bytes: int | None,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Print job logs from the server's log store (sites' logs as they streamed them).

    Without --tail, --since or --max-bytes: the last 500 lines per site. Bounds apply in the
    order --since, --tail, --max-bytes.
    """
    default_tail = tail is None and since is None and max_bytes is None
    # JSON output takes a site's structured log.json when stored; human output its log.txt.
    prefer = "log.json" if fmt == "json" else "log.txt"
    with open_api(kit_id, startup_kit) as api:
        stored = api.job_logs(job_id, site=site, study=study, prefer=prefer)
    data = _bounded(stored, since, DEFAULT_TAIL if default_tail else tail, max_bytes)
    data["site"] = site
    data["filters"] = {
        "since": since.isoformat() if since else None,
        "tail": DEFAULT_TAIL if default_tail else tail,
        "max_bytes": max_bytes,
        "default_tail_applied": default_tail,
        "order": ["since", "tail", "max_bytes"],
    }
    if site != "all" and data["unavailable"]:
        reason = data["unavailable"][site]
        raise CohortError(
            f"no log of {site} is stored for job {job_id}: {reason}",
            code=ErrorCode.LOG_NOT_FOUND,
            hint="Check that the site ran the job and that the job streams its logs (a "
            "JobLogStreamer and JobLogReceiver, or a POC server); `--site all` lists what is "
            "available.",
            details={"job_id": job_id, "site": site, "reason": reason},
        )

    def human() -> None:
        for name, text in data["logs"].items():
            if data["sites"][name]["file"] == "log.json":  # only JSON records were stored
                text = render_json_log(text)
            if site == "all":
                click.echo(f"==> {name} <==")
            click.echo(text, nl=not text.endswith("\n") and bool(text))
        for name, reason in data["unavailable"].items():
            err_console.print(f"({name}: no log: {reason})", markup=False)
        if data["logs_truncated"]:
            err_console.print(
                "(output bounded: "
                + ("last 500 lines per site; " if default_tail else "")
                + "use --tail, --since or --max-bytes to choose)",
                markup=False,
            )

    emit(fmt, data, human)


def _bounded(
    stored: JobLogs, since: datetime | None, tail: int | None, max_bytes: int | None
) -> dict[str, Any]:
    texts: dict[str, str] = {}
    sites: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    truncated = False
    for entry in stored.logs:
        if not entry.available:
            unavailable[entry.site] = entry.reason
            sites[entry.site] = {"available": False, "reason": entry.reason}
            continue
        stamp = record_time if entry.file == "log.json" else line_time
        result = bound_log(entry.content, since=since, tail=tail, max_bytes=max_bytes, stamp=stamp)
        texts[entry.site] = result.text
        cut = result.truncated or entry.truncated_by_server
        truncated = truncated or cut
        sites[entry.site] = {
            "available": True,
            "file": entry.file,
            "lines": result.lines,
            "bytes": result.bytes,
            "stored_bytes": entry.stored_bytes,
            "truncated": cut,
            "truncated_by_server": entry.truncated_by_server,
            "since_applied": result.since_applied,
        }
    return {
        "job_id": stored.job_id,
        "study": stored.study,
        "logs": texts,
        "sites": sites,
        "unavailable": unavailable,
        "logs_truncated": truncated,
    }


@click.command("log-config", cls=CohortCommand, mutating=True, idempotent=True)
@click.argument("job_id")
@click.argument(
    "level", metavar="LEVEL|MODE", type=click.Choice(LOG_LEVELS + LOG_MODES, case_sensitive=False)
)
@site_option("all", "A site of the job, server, or all.")
@study_option
@kit_options
@format_choice("txt", "json")
def log_config(
    job_id: str,
    level: str,
    site: str,
    study: str,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Change the log level or mode of a running job's processes (applied within seconds)."""
    with open_api(kit_id, startup_kit) as api:
        reply = api.set_log_config(job_id, level, site=site, study=study)

    def human() -> None:
        click.echo(f"job {job_id}: log config {level} sent to {', '.join(reply.targets)}")

    emit(fmt, reply.model_dump(), human)


@click.command("stats", cls=CohortCommand)
@click.argument("job_id")
@site_option("all", "A site of the job, server, or all.")
@study_option
@kit_options
@format_choice("txt", "json")
def stats(
    job_id: str,
    site: str,
    study: str,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Show a job's statistics: round, status, per-site tasks and updates received."""
    with open_api(kit_id, startup_kit) as api:
        result = api.job_stats(job_id, site=site, study=study)
    emit(fmt, result.model_dump(), lambda: _print_stats(result, out_console()))


def _print_stats(result: JobStats, console: Console) -> None:
    server = result.server
    if server is not None:
        rnd = f"{server.current_round or 0}/{server.total_rounds}" if server.total_rounds else "-"
        console.print(f"[bold]server[/bold]  job {result.job_id}")
        console.print(f"  status            {display_status(server.status)}")
        console.print(f"  round             {rnd}")
        console.print(f"  global models     {server.rounds_completed}")
        console.print(f"  updates received  {server.updates_received}")
        if server.start_time:
            console.print(f"  started           {iso(server.start_time)}")
        if server.latest_metrics:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(server.latest_metrics.items()))
            console.print(f"  latest metrics    {shown}", markup=False)
    if result.sites:
        table = Table("site", "tasks", "updates", "samples", "last update", "errors")
        for name, s in result.sites.items():
            tasks = ", ".join(f"{k.lower()} {v}" for k, v in sorted(s.tasks.items()))
            table.add_row(
                name,
                tasks or "-",
                str(s.updates_received),
                str(s.samples),
                (iso(s.last_update_time) or "-")[:19].replace("T", " "),
                "; ".join(s.errors) or "-",
            )
        console.print(table)
