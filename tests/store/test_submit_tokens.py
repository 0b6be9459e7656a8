"""The submit-token part of the StateStore contract, run against every backend.

Each test names the MUST of ``StateStore.create_job_with_token`` / ``delete_job`` it checks.
The ``store`` fixture (conftest) covers SQLite file, SQLite memory and PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from cohort.errors import Conflict, ErrorCode
from cohort.schemas.records import SUBMIT_TOKEN_ACTIVE, SUBMIT_TOKEN_JOB_DELETED
from cohort.store import JobFilter, StateStore

T0 = 1_700_000_000.25
TOKEN = "retry-1:a.b_c"


def submit(store: StateStore, job_id: str, *, content: str = "c" * 64, **over: Any) -> Any:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "name": "hello",
        "study": "default",
        "submitter": "alice@example.org",
        "meta": {"name": "hello", "deploy_map": {"app": ["@ALL"]}},
        "job_sha256": "a" * 64,
        "submit_time": T0,
        "token": TOKEN,
        "content_sha256": content,
    }
    fields.update(over)
    return store.create_job_with_token(**fields)


def test_first_submit_creates_job_and_active_record(store: StateStore) -> None:
    job, created = submit(store, "job-1")
    assert created and job.job_id == "job-1" and job.status == "SUBMITTED"
    record = store.get_submit_token(study="default", submitter="alice@example.org", token=TOKEN)
    assert record is not None
    assert (record.job_id, record.state, record.content_sha256) == (
        "job-1",
        SUBMIT_TOKEN_ACTIVE,
        "c" * 64,
    )
    assert record.created == T0 and record.deleted_time is None


def test_same_token_same_content_returns_existing_job_and_creates_nothing(
    store: StateStore,
) -> None:
    submit(store, "job-1")
    job, created = submit(store, "job-2")
    assert not created and job.job_id == "job-1"
    assert [j.job_id for j in store.list_jobs()] == ["job-1"]


def test_same_token_other_content_is_submit_token_conflict(store: StateStore) -> None:
    submit(store, "job-1")
    with pytest.raises(Conflict) as info:
        submit(store, "job-2", content="d" * 64)
    assert info.value.code == ErrorCode.SUBMIT_TOKEN_CONFLICT
    assert info.value.details["job_id"] == "job-1"
    assert [j.job_id for j in store.list_jobs()] == ["job-1"]


def test_scope_is_study_submitter_and_token(store: StateStore) -> None:
    submit(store, "job-1")
    other_study, created_a = submit(store, "job-2", study="cancer")
    other_user, created_b = submit(store, "job-3", submitter="bob@example.org")
    other_token, created_c = submit(store, "job-4", token="retry-2")
    assert created_a and created_b and created_c
    assert {other_study.job_id, other_user.job_id, other_token.job_id} == {
        "job-2",
        "job-3",
        "job-4",
    }
    assert other_study.study == "cancer"
    assert store.get_submit_token(study="cancer", submitter="bob@example.org", token=TOKEN) is None


def test_get_submit_token_unknown_is_none(store: StateStore) -> None:
    assert store.get_submit_token(study="default", submitter="x", token="nope") is None


def test_delete_marks_records_and_returns_count(store: StateStore) -> None:
    submit(store, "job-1")
    marked = store.delete_job("job-1", now=T0 + 50)
    assert marked == 1
    assert store.list_jobs() == []
    record = store.get_submit_token(study="default", submitter="alice@example.org", token=TOKEN)
    assert record is not None
    assert record.state == SUBMIT_TOKEN_JOB_DELETED and record.deleted_time == T0 + 50


def test_delete_without_token_marks_nothing(store: StateStore) -> None:
    store.create_job(
        job_id="plain",
        name="p",
        study="default",
        submitter="alice@example.org",
        meta={},
        job_sha256="a" * 64,
        submit_time=T0,
    )
    assert store.delete_job("plain") == 0


def test_token_of_deleted_job_is_submit_token_job_deleted_for_any_content(
    store: StateStore,
) -> None:
    submit(store, "job-1")
    store.delete_job("job-1", now=T0 + 50)
    for content in ("c" * 64, "d" * 64):
        with pytest.raises(Conflict) as info:
            submit(store, "job-2", content=content)
        assert info.value.code == ErrorCode.SUBMIT_TOKEN_JOB_DELETED
        details = info.value.details
        assert details["job_id"] == "job-1" and details["state"] == "job_deleted"
        assert details["deleted_time"].startswith("2023-11-14T22:")  # ISO 8601 of T0 + 50
    assert store.list_jobs() == []


def test_token_job_lives_in_its_study(store: StateStore) -> None:
    submit(store, "job-1", study="cancer")
    assert [j.job_id for j in store.list_jobs(JobFilter(study="cancer"))] == ["job-1"]
    assert store.list_jobs(JobFilter(study="default")) == []


def test_twenty_concurrent_submits_with_one_token_create_one_job(store: StateStore) -> None:
    barrier = threading.Barrier(20)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            barrier.wait(10)
            job, _ = submit(store, f"job-{uuid.uuid4().hex}")
            with lock:
                results.append(job.job_id)
        except BaseException as exc:  # collected: a thread must not swallow failures
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results) == 20 and len(set(results)) == 1
    assert [j.job_id for j in store.list_jobs()] == results[:1]
