"""Fixtures: a state store per backend (SQLite file, SQLite memory, PostgreSQL when available).

PostgreSQL tests each get a fresh schema (``search_path`` set through the URL), dropped after
the test, so they can run in parallel against one database and leave nothing behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from cohort.store import SQLStore

PG_ENV = "COHORT_TEST_POSTGRES_URL"
PG_SKIP_REASON = f"{PG_ENV} not set: PostgreSQL contract tests skipped"


def postgres_url() -> str | None:
    """The PostgreSQL URL to test against, or None."""
    return os.environ.get(PG_ENV) or None


@contextmanager
def postgres_schema_url(base: str) -> Iterator[str]:
    """Create a throwaway schema and yield a URL whose connections use it."""
    schema = f"t_{uuid.uuid4().hex}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield a URL of an empty database of the given kind (skipping when unavailable)."""
    if kind == "sqlite_file":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    elif kind == "sqlite_memory":
        yield "sqlite://"
    elif kind == "postgres":
        base = postgres_url()
        if base is None:
            pytest.skip(PG_SKIP_REASON)
        with postgres_schema_url(base) as url:
            yield url
    else:  # pragma: no cover
        raise ValueError(kind)


BACKENDS = [
    pytest.param("sqlite_file", id="sqlite-file"),
    pytest.param("sqlite_memory", id="sqlite-memory"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty database on each backend."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[SQLStore]:
    """A migrated, empty store on each backend."""
    st = SQLStore(db_url)
    try:
        yield st
    finally:
        st.close()
