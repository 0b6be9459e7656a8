"""Bring a database schema to the newest revision with the packaged Alembic migrations.

No ``alembic.ini`` is needed: the configuration is built here, pointing at the ``migrations``
folder shipped inside the package.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from cohort.store.sql_engine import IMMEDIATE, make_engine

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade", "upgrade_engine"]

#: The Alembic script folder inside the installed package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any fixed 64-bit number: PostgreSQL advisory lock key that serialises concurrent upgrades.
_PG_LOCK_KEY = 0x636F686F7274


def alembic_config(url: str | sa.URL | None = None) -> Config:
    """Return an Alembic configuration for the packaged migrations (and ``url`` if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = sa.make_url(url).render_as_string(hide_password=False)
        # The config is a ConfigParser: a literal % (URL escapes) must be doubled.
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Create or upgrade the schema of the database at ``url`` to the newest revision."""
    info = make_engine(url)
    try:
        upgrade_engine(info.engine, url=url)
    finally:
        info.engine.dispose()


def upgrade_engine(engine: sa.Engine, *, url: str | sa.URL | None = None) -> None:
    """Upgrade through an existing engine (needed for in-memory SQLite, where a new engine
    would see a new, empty database).

    The whole upgrade is one transaction holding the database's write lock (``BEGIN IMMEDIATE``
    on SQLite, an advisory lock on PostgreSQL), so two processes starting at once upgrade once.
    """
    cfg = alembic_config(url if url is not None else engine.url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Batch migrations copy and drop tables; with foreign keys on, dropping a parent
            # would cascade into its children. The pragma is ignored inside a transaction, so
            # it is set on the raw connection before ours begins.
            _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite:
                    bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if bad:
                        raise RuntimeError(f"migration broke foreign keys: {bad[:5]}")
        finally:
            if sqlite:
                _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(conn: sa.Connection, statement: str) -> None:
    """Run a pragma on the DBAPI connection, outside any transaction SQLAlchemy would begin."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()
