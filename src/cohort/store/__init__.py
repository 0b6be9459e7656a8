"""Durable state (the :class:`StateStore`, on SQL) and artifacts (the :class:`ArtifactStore`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cohort import lazy
from cohort.store.artifacts import ArtifactStore, FileArtifactStore
from cohort.store.base import JobFilter, StateStore

if TYPE_CHECKING:
    from cohort.store.sql import SQLStore

# SQLStore loads on first use: SQLAlchemy and alembic take ~0.4 s of CPU to import, which
# every server job process paid although it only reads and writes artifact files.
__getattr__ = lazy.lazy_names(globals(), {"SQLStore": "cohort.store.sql"})

__all__ = [
    "DB_URL_ENV",
    "ArtifactStore",
    "FileArtifactStore",
    "JobFilter",
    "SQLStore",
    "StateStore",
    "default_db_url",
    "open_store",
]

#: Environment variable naming the state database; it wins over configuration.
DB_URL_ENV = "COHORT_DB_URL"


def default_db_url(url: str | None, workspace: Path) -> str:
    """Return the database URL to use: ``$COHORT_DB_URL``, else ``url``, else a SQLite file
    ``cohort.db`` in ``workspace``."""
    from_env = os.environ.get(DB_URL_ENV, "").strip()
    if from_env:
        return from_env
    if url:
        return url
    return f"sqlite:///{(Path(workspace) / 'cohort.db').resolve()}"


def open_store(url: str | None, workspace: Path) -> StateStore:
    """Open (creating and migrating as needed) the state store for a server workspace."""
    from cohort.store.sql import SQLStore

    return SQLStore(default_db_url(url, workspace))
