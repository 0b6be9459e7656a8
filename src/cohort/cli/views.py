"""How jobs read on the command line: COMPLETED for FINISHED_OK, times, short summaries."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from cohort.cli.output import iso
from cohort.schemas.records import JobRecord
from cohort.states import JOB_TERMINAL, JobStatus

__all__ = ["display_status", "job_view", "jobs_table", "print_job_summary", "progress_line"]

#: Successful terminal statuses read COMPLETED; the raw status stays in ``job_status``.
COMPLETED = "COMPLETED"


def display_status(status: JobStatus | str) -> str:
    """FINISHED_OK -> COMPLETED; every other status as it is."""
    return COMPLETED if status == JobStatus.FINISHED_OK else str(status)


def job_view(record: JobRecord) -> dict[str, Any]:
    """A job in JSON output: the full record, ``status`` normalised, ``job_status`` raw, and
    ISO 8601 copies of its times."""
    data = record.model_dump(mode="json")
    data["job_status"] = str(record.status)
    data["status"] = display_status(record.status)
    data["terminal"] = record.status in JOB_TERMINAL
    for key in ("submit_time", "start_time", "end_time"):
        data[f"{key}_iso"] = iso(getattr(record, key))
    return data


def progress_line(record: JobRecord) -> str:
    """One line saying where a job is."""
    parts = [f"job {record.job_id}: {display_status(record.status)}"]
    if record.total_rounds:
        parts.append(f"round {record.current_round or 0}/{record.total_rounds}")
    if record.status_reason:
        parts.append(record.status_reason)
    return " | ".join(parts)


def jobs_table(jobs: list[JobRecord]) -> Table:
    """The job list as a table (the study column only when jobs of several studies show)."""
    studies = len({j.study for j in jobs}) > 1
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("job id", no_wrap=True)  # ids must stay whole, to be copied
    table.add_column("name")
    if studies:
        table.add_column("study")
    for header in ("status", "round", "submitted"):
        table.add_column(header, no_wrap=True)
    table.add_column("by")
    for j in jobs:
        rnd = f"{j.current_round or 0}/{j.total_rounds}" if j.total_rounds else ""
        when = (iso(j.submit_time) or "")[:19].replace("T", " ")
        row = [j.job_id, j.name, *([j.study] if studies else [])]
        table.add_row(*row, display_status(j.status), rnd, when, j.submitter)
    return table


def _duration(record: JobRecord) -> str:
    if record.start_time is None or record.end_time is None:
        return ""
    return f"{record.end_time - record.start_time:.1f} s"


def print_job_summary(record: JobRecord, console: Console) -> None:
    """A concise, grouped summary of a job's metadata."""
    status = display_status(record.status)
    raw = f" ({record.status})" if status != record.status else ""
    console.print(f"[bold]{record.name}[/bold]  {record.job_id}")
    console.print(f"  study        {record.study}")
    console.print(f"  submitter    {record.submitter}")
    console.print(f"  status       {status}{raw}")
    if record.status_reason:
        console.print(f"  reason       {record.status_reason}", markup=False)
    console.print(f"  submitted    {iso(record.submit_time)}")
    if record.start_time:
        console.print(f"  started      {iso(record.start_time)}")
    if record.end_time:
        console.print(f"  ended        {iso(record.end_time)}  ({_duration(record)})")
    if record.total_rounds:
        console.print(f"  round        {record.current_round or 0} of {record.total_rounds}")
    if record.sites:
        console.print(f"  sites        {', '.join(record.sites)}")
    for err in record.site_errors:
        # A refused update (policies.update_validation) is not a failure of the site's script.
        label = "refused   " if err.get("kind") == "rejected" else "site error"
        console.print(f"  [red]{label}[/red]   {err.get('site')}: {err.get('error')}")
