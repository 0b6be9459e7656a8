"""How a submit-token record answers a repeated submit or a lookup, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cohort.errors import Conflict, ErrorCode
from cohort.schemas.records import SUBMIT_TOKEN_JOB_DELETED, SubmitTokenRecord

__all__ = ["iso_time", "job_deleted_error", "resolve_token"]


def iso_time(seconds: float) -> str:
    """POSIX seconds as ISO 8601 with its UTC offset."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def job_deleted_error(record: SubmitTokenRecord) -> Conflict:
    """SUBMIT_TOKEN_JOB_DELETED for a record whose job was deleted."""
    details: dict[str, Any] = {"job_id": record.job_id, "state": record.state}
    if record.deleted_time is not None:
        details["deleted_time"] = iso_time(record.deleted_time)
    return Conflict(
        f"submit token {record.token!r} refers to job {record.job_id}, which was deleted",
        ErrorCode.SUBMIT_TOKEN_JOB_DELETED,
        hint="Use a new submit token to submit the job again.",
        details=details,
    )


def resolve_token(record: SubmitTokenRecord, content_sha256: str | None = None) -> str:
    """The job id a token resolves to.

    Raises SUBMIT_TOKEN_JOB_DELETED when its job was deleted and, when ``content_sha256`` is
    given (a repeated submit), SUBMIT_TOKEN_CONFLICT when the content differs.
    """
    if record.state == SUBMIT_TOKEN_JOB_DELETED:
        raise job_deleted_error(record)
    if content_sha256 is not None and record.content_sha256 != content_sha256:
        raise Conflict(
            f"submit token {record.token!r} was already used for job {record.job_id} "
            "with different job content",
            ErrorCode.SUBMIT_TOKEN_CONFLICT,
            hint="Use a new submit token for different job content, or resubmit the identical "
            "content to get the existing job back.",
            details={"job_id": record.job_id, "state": record.state},
        )
    return record.job_id
