"""The Alembic migrations and the SQLAlchemy table metadata describe the same schema.

Autogenerate's comparison of a freshly migrated database with ``sql_tables.metadata`` must find
nothing, on SQLite and on PostgreSQL, so a table change without a migration (or the other way
round) fails here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from cohort.store import SQLStore
from cohort.store.migrate import MIGRATIONS_DIR, alembic_config, upgrade, upgrade_engine
from cohort.store.sql_engine import make_engine
from cohort.store.sql_tables import metadata

EXPECTED_TABLES = {
    "jobs",
    "sites",
    "rounds",
    "tasks",
    "updates",
    "studies",
    "study_sites",
    "study_users",
    "audit_log",
}


def schema_diffs(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_one_head_and_packaged_files() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "the migration chain must not fork"
    for name in ("env.py", "script.py.mako", "versions/0001_initial.py"):
        assert (MIGRATIONS_DIR / name).is_file(), name


def test_migrated_schema_matches_metadata(db_url: str) -> None:
    store = SQLStore(db_url)  # migrates; memory databases only exist through one engine
    try:
        assert set(sa.inspect(store.engine).get_table_names()) >= EXPECTED_TABLES
        assert schema_diffs(store.engine) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(store.engine) == head
    finally:
        store.close()


def test_upgrade_is_idempotent_and_downgrade_reverses(db_url: str) -> None:
    info = make_engine(db_url)
    try:
        upgrade_engine(info.engine)
        upgrade_engine(info.engine)
        assert schema_diffs(info.engine) == []
        with info.engine.begin() as conn:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert not EXPECTED_TABLES & set(sa.inspect(info.engine).get_table_names())
        upgrade_engine(info.engine)
        assert schema_diffs(info.engine) == []
    finally:
        info.engine.dispose()


def test_upgrade_by_url_then_open_without_migrating(db_url: str) -> None:
    if sa.make_url(db_url).database in (None, ""):
        pytest.skip("a memory database lives and dies with its engine: nothing to reopen")
    upgrade(db_url)
    store = SQLStore(db_url, migrate=False)
    try:
        assert store.list_jobs() == []
        assert schema_diffs(store.engine) == []
    finally:
        store.close()


def test_store_without_migrating_a_new_database_has_no_tables(db_url: str) -> None:
    store = SQLStore(db_url, migrate=False)
    try:
        assert not EXPECTED_TABLES & set(sa.inspect(store.engine).get_table_names())
    finally:
        store.close()
