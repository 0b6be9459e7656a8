"""SQLite specifics: pragmas, persistence, several processes on one file, ``open_store``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cohort.states import JobStatus
from cohort.store import DB_URL_ENV, SQLStore, default_db_url, open_store

T0 = 1_700_000_000.0


def pragma(store: SQLStore, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_file_database_pragmas(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert pragma(store, "journal_mode") == "wal"
        assert pragma(store, "busy_timeout") == 10_000
        assert pragma(store, "foreign_keys") == 1
        assert pragma(store, "synchronous") == 1  # NORMAL
    finally:
        store.close()


def test_memory_database_pragmas() -> None:
    store = SQLStore("sqlite://")
    try:
        assert pragma(store, "journal_mode") == "memory"
        assert pragma(store, "foreign_keys") == 1
    finally:
        store.close()


def test_file_database_persists_and_creates_folders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'state.db'}"
    store = SQLStore(url)
    store.create_job(
        job_id="j", name="n", study="s", submitter="u", meta={}, job_sha256="x", submit_time=T0
    )
    store.close()
    again = SQLStore(url)
    try:
        assert again.get_job("j").name == "n"
    finally:
        again.close()


RACER = """
import sys, time
from cohort.states import JobStatus
from cohort.store import SQLStore

url, start, me = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
store = SQLStore(url)  # every process migrates at once: must be safe
try:
    store.create_job(job_id="j", name="n", study="s", submitter="u", meta={},
                     job_sha256="x", submit_time=1.0)
except Exception as exc:
    assert getattr(exc, "code", None) == "CONFLICT", exc
store.touch_site("site-%d" % me, org="o", now=1.0)
won = store.set_job_status("j", JobStatus.DISPATCHED, now=2.0) is not None
print("WON" if won else "LOST")
store.close()
"""


def test_processes_racing_on_one_file(tmp_path: Path) -> None:
    """Six processes open a new database at once, create the same job and race to move it."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, str(start), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert sorted(out.strip() for out, _ in outputs) == ["LOST"] * 5 + ["WON"]
    store = SQLStore(url)
    try:
        assert store.get_job("j").status == JobStatus.DISPATCHED
        assert store.get_job("j").version == 2
        assert len(store.list_sites()) == 6
    finally:
        store.close()


def test_default_db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    assert default_db_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve() / 'cohort.db'}"
    assert default_db_url("sqlite://", tmp_path) == "sqlite://"
    monkeypatch.setenv(DB_URL_ENV, "postgresql+psycopg://db/x")
    assert default_db_url("sqlite://", tmp_path) == "postgresql+psycopg://db/x"
    assert default_db_url(None, tmp_path) == "postgresql+psycopg://db/x"


def test_open_store_in_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    workspace = tmp_path / "ws"
    store = open_store(None, workspace)
    try:
        assert isinstance(store, SQLStore)
        assert (workspace / "cohort.db").is_file()
        assert store.list_jobs() == []
    finally:
        store.close()


def test_open_store_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.db"
    monkeypatch.setenv(DB_URL_ENV, f"sqlite:///{other}")
    store = open_store(f"sqlite:///{tmp_path / 'ignored.db'}", tmp_path)
    try:
        assert other.is_file() and not (tmp_path / "ignored.db").exists()
    finally:
        store.close()
