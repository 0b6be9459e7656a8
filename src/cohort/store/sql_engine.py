"""Engine construction for the SQL store: SQLite pragmas, SQLite write locking, pooling.

SQLite needs care to be safe with several threads and processes:

* the ``sqlite3`` driver's own transaction handling is switched off and SQLAlchemy's ``begin``
  event emits ``BEGIN`` itself, so every transaction (reads included) is a real one;
* a transaction that will write starts with ``BEGIN IMMEDIATE`` (connection execution option
  :data:`IMMEDIATE`): it takes the write lock up front, so a read-check-write sequence cannot
  be overtaken by another writer, and a busy database is waited for (``busy_timeout``) instead
  of failing with "database is locked" when a deferred reader tries to upgrade its lock;
* ``sqlite://`` (in memory) shares one connection (StaticPool), so the store serialises its
  use with a lock (see :attr:`EngineInfo.shared_connection`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

__all__ = ["IMMEDIATE", "EngineInfo", "dumps_json", "make_engine"]

#: Connection execution option: begin the next transaction with ``BEGIN IMMEDIATE`` on SQLite.
IMMEDIATE = "cohort_sqlite_immediate"

_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class EngineInfo:
    """An engine and what the store needs to know about it."""

    engine: sa.Engine
    dialect: str
    #: True when every user shares one DBAPI connection (in-memory SQLite): callers must
    #: serialise their transactions.
    shared_connection: bool


def _finite(value: Any) -> Any:
    """Return ``value`` with NaN and infinities spelled as the strings JavaScript uses."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def dumps_json(value: Any) -> str:
    """Serialise a JSON column value the same way on every database.

    A diverging model reports a NaN loss; PostgreSQL rejects the bare ``NaN`` token Python's
    json module writes, so non-finite floats are stored as strings, which the record types
    (pydantic floats) read back as floats.
    """
    return json.dumps(_finite(value), allow_nan=False)


def _is_memory(url: sa.URL) -> bool:
    """Return True for an in-memory SQLite URL."""
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def make_engine(url: str | sa.URL) -> EngineInfo:
    """Create an engine for ``url`` set up for the store (pragmas, locking, pooling)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: the server outlives database restarts and idle-connection reapers.
        engine = sa.create_engine(parsed, pool_pre_ping=True, json_serializer=dumps_json)
        return EngineInfo(engine=engine, dialect=engine.dialect.name, shared_connection=False)

    memory = _is_memory(parsed)
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False},
        "json_serializer": dumps_json,
    }
    if memory:
        # One connection for everyone, else each connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
    elif parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, **kwargs)
    _install_sqlite_hooks(engine, wal=not memory)
    return EngineInfo(engine=engine, dialect="sqlite", shared_connection=memory)


def _install_sqlite_hooks(engine: sa.Engine, *, wal: bool) -> None:
    """Set the pragmas on each new connection and take over ``BEGIN`` from the driver."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing its own (deferred, DML-only) BEGIN; see on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so that switching to WAL waits out another process.
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # NORMAL is durable across application crashes in WAL mode and much faster.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    def on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
