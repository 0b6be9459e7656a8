"""Submit-token records in SQL: the statements :class:`cohort.store.sql.SQLStore` runs inside
its own transactions (each function takes the open connection)."""

from __future__ import annotations

import sqlalchemy as sa

from cohort.schemas.records import (
    SUBMIT_TOKEN_ACTIVE,
    SUBMIT_TOKEN_JOB_DELETED,
    SubmitTokenRecord,
)
from cohort.store.sql_tables import submit_tokens

__all__ = ["find_token", "insert_token", "mark_job_deleted"]


def find_token(
    conn: sa.Connection, study: str, submitter: str, token: str
) -> SubmitTokenRecord | None:
    """The record of one scope, or None."""
    row = conn.execute(
        sa.select(submit_tokens).where(
            submit_tokens.c.study == study,
            submit_tokens.c.submitter == submitter,
            submit_tokens.c.token == token,
        )
    ).first()
    return None if row is None else SubmitTokenRecord.model_validate(dict(row._mapping))


def insert_token(
    conn: sa.Connection,
    *,
    study: str,
    submitter: str,
    token: str,
    content_sha256: str,
    job_id: str,
    now: float,
) -> None:
    """Insert an active record; the primary key refuses a second one for the scope."""
    conn.execute(
        sa.insert(submit_tokens).values(
            study=study,
            submitter=submitter,
            token=token,
            content_sha256=content_sha256,
            job_id=job_id,
            state=SUBMIT_TOKEN_ACTIVE,
            created=now,
            deleted_time=None,
        )
    )


def mark_job_deleted(conn: sa.Connection, job_id: str, now: float) -> int:
    """Mark the job's records ``job_deleted``; return how many changed."""
    result = conn.execute(
        sa.update(submit_tokens)
        .where(
            submit_tokens.c.job_id == job_id,
            submit_tokens.c.state != SUBMIT_TOKEN_JOB_DELETED,
        )
        .values(state=SUBMIT_TOKEN_JOB_DELETED, deleted_time=now)
    )
    return int(result.rowcount)
