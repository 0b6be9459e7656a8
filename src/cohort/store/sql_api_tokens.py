"""API-token records in SQL: the statements :class:`cohort.store.sql.SQLStore` runs inside its
own transactions (each function takes the open connection)."""

from __future__ import annotations

import sqlalchemy as sa

from cohort.errors import Conflict, ErrorCode, NotFound
from cohort.schemas.records import ApiTokenRecord
from cohort.store.sql_tables import api_tokens

__all__ = ["find", "insert", "list_all", "revoke"]


def find(conn: sa.Connection, token_id: str) -> ApiTokenRecord | None:
    """The record, or None."""
    row = conn.execute(sa.select(api_tokens).where(api_tokens.c.token_id == token_id)).first()
    return None if row is None else ApiTokenRecord.model_validate(dict(row._mapping))


def insert(conn: sa.Connection, record: ApiTokenRecord) -> ApiTokenRecord:
    """Insert a record; Conflict if its id is taken."""
    if find(conn, record.token_id) is not None:
        raise Conflict(f"API token {record.token_id!r} already exists", ErrorCode.CONFLICT)
    conn.execute(
        sa.insert(api_tokens).values(**record.model_dump(), secret_sha256=record.secret_sha256)
    )
    return record


def list_all(conn: sa.Connection) -> list[ApiTokenRecord]:
    """Every record, oldest first."""
    rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created, api_tokens.c.token_id))
    return [ApiTokenRecord.model_validate(dict(r._mapping)) for r in rows]


def revoke(conn: sa.Connection, token_id: str, now: float) -> ApiTokenRecord:
    """Mark revoked (once); NotFound if unknown."""
    conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked.is_(None))
        .values(revoked=now)
    )
    record = find(conn, token_id)
    if record is None:
        raise NotFound(
            f"API token {token_id!r} not found",
            ErrorCode.NOT_FOUND,
            hint="`cohort token list` shows the known tokens.",
            details={"token_id": token_id},
        )
    return record
