"""``cohort job wait`` (one final envelope) and ``cohort job monitor`` (progress on stderr, or
a JSONL event stream).

Exit codes of both: 0 the job finished OK, 1 it reached a terminal failure status, 2 the
server could not be reached or refused the kit, 3 the timeout passed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NoReturn

import click

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice, kit_options, open_api, study_option
from cohort.cli.output import SCHEMA_VERSION, emit, emit_error, err_console, print_json
from cohort.cli.views import display_status, job_view, progress_line
from cohort.errors import CohortError, ErrorCode, spec_for
from cohort.schemas.admin import JobStats
from cohort.schemas.records import JobRecord
from cohort.states import JOB_TERMINAL, JobStatus

__all__ = ["monitor", "wait"]

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait at most; 0 waits for ever.",
)
interval_option = click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Poll interval in seconds (changes are pushed at once; this bounds each poll).",
)


def _poll(interval: float) -> float:
    return min(max(interval, 0.05), 20.0)


def _finish(fmt: str, record: JobRecord, extra: dict[str, Any] | None = None) -> None:
    """The final result of wait/monitor: ok for FINISHED_OK, JOB_FAILED (exit 1) otherwise."""
    data = {**job_view(record), **(extra or {})}
    if record.status == JobStatus.FINISHED_OK:
        emit(fmt, data, lambda: click.echo(f"job {record.job_id}: COMPLETED ({record.status})"))
        return

    def human() -> None:
        click.echo(f"job {record.job_id}: {record.status}")
        for err in record.site_errors:
            err_console.print(f"  {err.get('site')}: {err.get('error')}", markup=False)

    emit_error(
        fmt,
        ErrorCode.JOB_FAILED,
        f"job {record.job_id} ended {record.status}: {record.status_reason}",
        f"See `cohort job meta {record.job_id}` and `cohort job logs {record.job_id} --site all`.",
        data,
        human=human,
    )


@click.command("wait", cls=CohortCommand)
@click.argument("job_id")
@timeout_option
@interval_option
@study_option
@kit_options
@format_choice("txt", "json")
def wait(
    job_id: str,
    timeout: float,
    interval: float,
    study: str,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Wait for a job to end and print one final result (no progress stream)."""

    def note(record: JobRecord) -> None:
        err_console.print(progress_line(record), markup=False)

    with open_api(kit_id, startup_kit) as api:
        record = api.wait_job(job_id, timeout, on_change=note, study=study, poll=_poll(interval))
    _finish(fmt, record)


def _event(kind: str, record: JobRecord, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "event": kind,
        "job_id": record.job_id,
        "status": display_status(record.status),
        "job_status": str(record.status),
        "current_round": record.current_round,
        "total_rounds": record.total_rounds,
        "status_reason": record.status_reason,
        "time": time.time(),
        **extra,
    }


def _stats_fields(stats: JobStats | None, metrics: tuple[str, ...]) -> dict[str, Any]:
    if stats is None:
        return {}
    fields: dict[str, Any] = {}
    if stats.server is not None:
        fields["updates_received"] = stats.server.updates_received
        if metrics:
            latest = stats.server.latest_metrics
            fields["metrics"] = {key: latest.get(key) for key in metrics}
    if stats.sites:
        fields["sites"] = {
            name: {"tasks": s.tasks, "updates_received": s.updates_received}
            for name, s in stats.sites.items()
        }
    return fields


@click.command("monitor", cls=CohortCommand)
@click.argument("job_id")
@timeout_option
@interval_option
@study_option
@click.option(
    "--stats-target",
    type=click.Choice(["server", "client", "all"]),
    default="server",
    show_default=True,
    help="Where progress stats come from: the server, the sites (client), or both.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A metric key of the latest round to show with each update (repeatable).",
)
@kit_options
@format_choice("txt", "json", "jsonl")
def monitor(
    job_id: str,
    timeout: float,
    interval: float,
    study: str,
    stats_target: str,
    metrics: tuple[str, ...],
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Wait for a job, streaming its progress (stderr, or JSON lines with --format jsonl)."""
    stats_site = {"server": "server", "client": "all", "all": "all"}[stats_target]
    last: dict[str, Any] = {"record": None}

    try:
        with open_api(kit_id, startup_kit) as api:

            def progress(record: JobRecord) -> None:
                last["record"] = record
                stats = api.job_stats(job_id, site=stats_site, study=study)
                if stats_target == "client":
                    stats.server = None
                fields = _stats_fields(stats, metrics)
                last["fields"] = fields
                if record.status in JOB_TERMINAL:
                    return  # the terminal event (or final result) reports it
                if fmt == "jsonl":
                    print_json(_event("progress", record, terminal=False, **fields))
                else:
                    line = progress_line(record)
                    shown = fields.get("metrics") or {}
                    if shown:
                        line += " | " + ", ".join(f"{k}={v}" for k, v in shown.items())
                    err_console.print(line, markup=False)

            record = api.wait_job(
                job_id, timeout, on_change=progress, study=study, poll=_poll(interval)
            )
    except CohortError as exc:
        if fmt != "jsonl":
            raise
        _stream_error(job_id, exc, last["record"])
    if fmt == "jsonl":
        ok = record.status == JobStatus.FINISHED_OK
        fields = last.get("fields") or {}
        print_json(_event("terminal", record, terminal=True, exit_code=0 if ok else 1, **fields))
        if not ok:
            raise SystemExit(1)
        return
    _finish(fmt, record)


def _stream_error(job_id: str, exc: CohortError, record: JobRecord | None) -> NoReturn:
    """The last JSONL event: TIMEOUT (exit 3), or an error with its code."""
    exit_code = spec_for(exc.code).exit_code
    if exc.code == ErrorCode.TIMEOUT:
        # Always status TIMEOUT (exit 3), even before the first record arrived.
        event: dict[str, Any] = (
            _event("timeout", record, terminal=True, exit_code=exit_code)
            if record is not None
            else {
                "schema_version": SCHEMA_VERSION,
                "event": "timeout",
                "job_id": job_id,
                "terminal": True,
                "exit_code": exit_code,
            }
        )
        event["status"] = "TIMEOUT"
        event["message"] = exc.message
    else:
        event = {
            "schema_version": SCHEMA_VERSION,
            "event": "error",
            "job_id": job_id,
            "status": "error",
            "error_code": str(exc.code),
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": exit_code,
            "terminal": True,
        }
    print_json(event)
    raise SystemExit(exit_code)
