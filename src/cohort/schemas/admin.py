"""Admin API bodies beyond the store records: submit, delete, clone, logs, stats, log config.

The patterns here are the one definition of what a study name and a submit token may be; the
CLI checks them before connecting and the server checks them again.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from cohort.schemas.fleet import LogSetting

__all__ = [
    "ALL_STUDIES",
    "DEFAULT_STUDY",
    "LOG_LEVELS",
    "LOG_MODES",
    "STUDY_PATTERN",
    "SUBMIT_TOKEN_MAX",
    "SUBMIT_TOKEN_PATTERN",
    "CloneReply",
    "DeleteReply",
    "JobLogs",
    "JobStats",
    "LogConfigReply",
    "LogConfigRequest",
    "LogSetting",
    "ServerStats",
    "SiteLog",
    "SiteStats",
    "SubmitReply",
    "is_study_name",
    "is_submit_token",
]

DEFAULT_STUDY = "default"
#: ``job list --study all``: every study (so no study may be named "all").
ALL_STUDIES = "all"
STUDY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SUBMIT_TOKEN_MAX = 128
SUBMIT_TOKEN_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"  # noqa: S105 - a pattern, not a secret
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_MODES = ("concise", "msg_only", "full", "verbose", "reload")


def is_study_name(value: str) -> bool:
    """True when ``value`` can name a study."""
    return value != ALL_STUDIES and re.fullmatch(STUDY_PATTERN, value) is not None


def is_submit_token(value: str) -> bool:
    """True for 1-128 letters, digits, ``.``, ``_``, ``:`` or ``-``."""
    return re.fullmatch(SUBMIT_TOKEN_PATTERN, value) is not None


class SubmitReply(BaseModel):
    """Answer to a job submission."""

    job_id: str
    study: str = DEFAULT_STUDY
    created: bool = Field(
        default=True, description="False when a submit token resolved to an earlier submit."
    )


class DeleteReply(BaseModel):
    """Answer to a job deletion."""

    job_id: str
    study: str
    aborted_first: bool = Field(description="The job was still running and was aborted first.")
    submit_records_marked_deleted: int
    site_cleanup_pending: list[str] = Field(
        default_factory=list,
        description="Sites told to remove their job workspace with their next heartbeat.",
    )


class CloneReply(BaseModel):
    """Answer to a job clone."""

    source_job_id: str
    new_job_id: str
    study: str


class SiteLog(BaseModel):
    """One target's stored job log (the server's or a site's)."""

    site: str
    available: bool
    file: str | None = Field(
        default=None, description='The stored file: "log.txt", or "log.json" (JSON records).'
    )
    content: str = ""
    stored_bytes: int = 0
    truncated_by_server: bool = Field(
        default=False, description="Only the newest part of the log fits in one response."
    )
    reason: str = Field(default="", description="Why the log is unavailable.")


class JobLogs(BaseModel):
    """Stored logs of a job, as the server returns them (the CLI bounds them afterwards)."""

    job_id: str
    study: str
    logs: list[SiteLog]


class LogConfigRequest(BaseModel):
    """Change the logging of a running job's processes."""

    setting: str | dict[str, Any] = Field(
        description=f"A level {LOG_LEVELS}, a mode {LOG_MODES}, or a logging dictConfig dict "
        "(its levels and line format are applied)."
    )
    site: str = Field(default="all", description='"all", "server", or a site of the job.')


class LogConfigReply(BaseModel):
    """What was recorded, per target."""

    job_id: str
    study: str
    setting: str | dict[str, Any]
    targets: dict[str, LogSetting]


class ServerStats(BaseModel):
    """The server side of a job: where the workflow is."""

    status: str
    current_round: int | None
    total_rounds: int | None
    rounds_completed: int
    updates_received: int
    latest_metrics: dict[str, float]
    start_time: float | None
    end_time: float | None
    status_reason: str


class SiteStats(BaseModel):
    """One site's part in a job."""

    site: str
    tasks: dict[str, int] = Field(description="Task status -> count.")
    updates_received: int
    samples: int
    last_update_time: float | None
    errors: list[str]


class JobStats(BaseModel):
    """Running statistics of a job, from the store."""

    job_id: str
    study: str
    server: ServerStats | None = None
    sites: dict[str, SiteStats] = Field(default_factory=dict)
