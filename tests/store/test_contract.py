"""The StateStore contract (``cohort/store/base.py``), run against every backend.

Each test names the MUST it checks. The ``store`` fixture (conftest) is parametrized over a
SQLite file, SQLite in memory and PostgreSQL (skipped without ``COHORT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from cohort.errors import Conflict, ErrorCode, NotFound
from cohort.states import (
    JOB_TERMINAL,
    TASK_TERMINAL,
    JobStatus,
    TaskStatus,
    check_job_transition,
    check_task_transition,
)
from cohort.store import JobFilter, SQLStore, StateStore
from cohort.store.sql_tables import jobs, rounds, tasks, updates

T0 = 1_700_000_000.25  # a realistic POSIX time with a fraction (double precision matters)


def make_job(store: StateStore, job_id: str = "job-1", **over: Any) -> Any:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "name": "hello",
        "study": "default",
        "submitter": "alice@example.org",
        "meta": {"name": "hello", "deploy_map": {"app": ["@ALL"]}, "min_clients": 2},
        "job_sha256": "a" * 64,
        "submit_time": T0,
    }
    fields.update(over)
    return store.create_job(**fields)


def path_to(target: JobStatus) -> list[JobStatus]:
    """The shortest chain of allowed transitions from SUBMITTED to ``target``."""
    queue: deque[tuple[JobStatus, list[JobStatus]]] = deque([(JobStatus.SUBMITTED, [])])
    seen = {JobStatus.SUBMITTED}
    while queue:
        status, path = queue.popleft()
        if status == target:
            return path
        for nxt in JobStatus:
            if nxt not in seen and check_job_transition(status, nxt):
                seen.add(nxt)
                queue.append((nxt, [*path, nxt]))
    raise AssertionError(f"{target} is unreachable")


def drive(store: StateStore, job_id: str, target: JobStatus) -> None:
    for i, status in enumerate(path_to(target)):
        assert store.set_job_status(job_id, status, now=T0 + 1 + i) is not None


def task_path_to(target: TaskStatus) -> list[TaskStatus]:
    """Steps from PENDING to ``target`` (every status is one step away)."""
    return [] if target == TaskStatus.PENDING else [target]


def make_tasks(store: StateStore, job_id: str = "job-1", round: int = 0, **over: Any) -> Any:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "round": round,
        "name": "train",
        "sites": ["site-a", "site-b"],
        "model_path": f"jobs/{job_id}/rounds/{round}/global.safetensors",
        "deadline": T0 + 600,
        "now": T0 + 10 + round,
    }
    fields.update(over)
    return store.create_tasks(**fields)


def upload(store: StateStore, task_id: str, sha: str = "b" * 64, now: float = T0 + 50) -> Any:
    return store.add_update(
        task_id=task_id,
        path=f"updates/{task_id}.safetensors",
        sha256=sha,
        num_samples=10,
        metrics={"loss": 0.5},
        now=now,
    )


@contextmanager
def expect_not_found(code: ErrorCode) -> Iterator[None]:
    """Expect NotFound carrying ``code``."""
    with pytest.raises(NotFound) as info:
        yield
    assert info.value.code == code


# -- create_job / get_job -------------------------------------------------------------------
def test_create_job_is_submitted_version_1(store: StateStore) -> None:
    job = make_job(store)
    assert job.status == JobStatus.SUBMITTED
    assert job.version == 1
    assert job.submit_time == T0
    assert (job.start_time, job.end_time, job.current_round, job.total_rounds) == (None,) * 4
    assert job.status_reason == ""
    assert job.site_errors == [] and job.sites == []
    assert job.meta["deploy_map"] == {"app": ["@ALL"]}
    assert store.get_job("job-1") == job


def test_create_job_duplicate_id_is_conflict(store: StateStore) -> None:
    make_job(store)
    with pytest.raises(Conflict) as info:
        make_job(store, name="other")
    assert info.value.code == ErrorCode.CONFLICT
    assert store.get_job("job-1").name == "hello"


def test_get_job_unknown_is_job_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.get_job("nope")


# -- set_job_status -------------------------------------------------------------------------
@pytest.mark.parametrize("old", list(JobStatus), ids=str)
def test_every_transition_allowed_or_refused_as_the_state_machine_says(
    store: StateStore, old: JobStatus
) -> None:
    for n, new in enumerate(JobStatus):
        job_id = f"job-{n}"
        make_job(store, job_id)
        drive(store, job_id, old)
        before = store.get_job(job_id)
        result = store.set_job_status(job_id, new, reason="why", now=T0 + 100)
        after = store.get_job(job_id)
        if check_job_transition(old, new):
            assert result is not None, f"{old} -> {new} should be allowed"
            assert result == after
            assert after.status == new
            assert after.version == before.version + 1
            assert after.status_reason == "why"
        else:
            assert result is None, f"{old} -> {new} should be refused"
            assert after == before, "a refused transition must change nothing"


@pytest.mark.parametrize("terminal", sorted(JOB_TERMINAL), ids=str)
def test_terminal_status_is_final(store: StateStore, terminal: JobStatus) -> None:
    make_job(store)
    drive(store, "job-1", terminal)
    final = store.get_job("job-1")
    for new in JobStatus:
        assert store.set_job_status("job-1", new, reason="late", now=T0 + 999) is None
    assert store.get_job("job-1") == final


def test_status_times_reason_and_version(store: StateStore) -> None:
    make_job(store)
    dispatched = store.set_job_status("job-1", JobStatus.DISPATCHED, now=T0 + 1)
    assert dispatched is not None
    assert dispatched.version == 2
    assert dispatched.start_time is None and dispatched.end_time is None
    running = store.set_job_status("job-1", JobStatus.RUNNING, reason="started", now=T0 + 2)
    assert running is not None
    assert running.start_time == T0 + 2 and running.end_time is None
    assert running.status_reason == "started"
    assert running.version == 3
    done = store.set_job_status("job-1", JobStatus.FINISHED_OK, now=T0 + 3)
    assert done is not None
    assert done.start_time == T0 + 2 and done.end_time == T0 + 3
    assert done.status_reason == "started", "no reason given: the old one stays"
    assert done.version == 4


def test_end_time_set_on_every_terminal_status(store: StateStore) -> None:
    for n, terminal in enumerate(sorted(JOB_TERMINAL)):
        make_job(store, f"job-{n}")
        drive(store, f"job-{n}", terminal)
        job = store.get_job(f"job-{n}")
        assert job.end_time is not None and job.end_time > T0


def test_set_job_status_unknown_is_job_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.set_job_status("nope", JobStatus.ABORTED, now=T0)


def race(n: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; return the results."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_racing_status_writers_only_one_wins(store: StateStore, attempt: int) -> None:
    """Eight threads try to end a running job, each with its own terminal status."""
    make_job(store)
    drive(store, "job-1", JobStatus.RUNNING)
    targets = [sorted(JOB_TERMINAL)[i % len(JOB_TERMINAL)] for i in range(8)]
    results = race(8, lambda i: store.set_job_status("job-1", targets[i], now=T0 + 10 + i))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = store.get_job("job-1")
    assert final == winners[0]
    assert final.version == 4  # create, DISPATCHED, RUNNING, one terminal


def test_racing_same_transition_only_one_wins(store: StateStore) -> None:
    make_job(store)
    results = race(8, lambda i: store.set_job_status("job-1", JobStatus.DISPATCHED, now=T0 + i))
    assert sum(r is not None for r in results) == 1
    assert store.get_job("job-1").version == 2


# -- update_job -----------------------------------------------------------------------------
def test_update_job_without_fields_is_a_touch(store: StateStore) -> None:
    make_job(store)
    before = store.get_job("job-1")
    after = store.update_job("job-1")
    assert after.version == before.version + 1
    assert after.model_dump(exclude={"version"}) == before.model_dump(exclude={"version"})


def test_update_job_changes_given_fields_only_and_bumps_version(store: StateStore) -> None:
    make_job(store)
    drive(store, "job-1", JobStatus.RUNNING)
    before = store.get_job("job-1")
    job = store.update_job("job-1", current_round=1, total_rounds=5, sites=["site-a", "site-b"])
    assert (job.current_round, job.total_rounds, job.sites) == (1, 5, ["site-a", "site-b"])
    assert job.version == before.version + 1
    assert job.status == JobStatus.RUNNING and job.status_reason == before.status_reason
    job = store.update_job("job-1", status_reason="round 2 of 5")
    assert job.status_reason == "round 2 of 5"
    assert (job.current_round, job.total_rounds) == (1, 5), "None leaves a field alone"
    assert job.version == before.version + 2


def test_update_job_appends_site_errors(store: StateStore) -> None:
    make_job(store)
    store.update_job("job-1", add_site_error={"site": "site-a", "error": "boom"})
    job = store.update_job("job-1", add_site_error={"site": "site-b", "error": "bang"})
    assert job.site_errors == [
        {"site": "site-a", "error": "boom"},
        {"site": "site-b", "error": "bang"},
    ]
    assert job.status == JobStatus.SUBMITTED
    assert job.version == 3


def test_update_job_merges_meta_keys(store: StateStore) -> None:
    before = make_job(store)
    store.update_job("job-1", merge_meta={"restarts": 1, "resumed_from_round": None})
    job = store.update_job("job-1", merge_meta={"restarts": 2, "resumed_from_round": 3})
    assert job.meta == {**before.meta, "restarts": 2, "resumed_from_round": 3}
    assert job.status == before.status
    assert store.get_job("job-1").meta == job.meta


def test_update_job_never_changes_status_nor_its_reason_when_terminal(store: StateStore) -> None:
    make_job(store)
    drive(store, "job-1", JobStatus.RUNNING)
    store.set_job_status("job-1", JobStatus.ABORTED, reason="aborted by bob", now=T0 + 9)
    # A progress report racing the abort: the round is recorded, the reason stays.
    job = store.update_job("job-1", status_reason="round 3 of 5", current_round=3)
    assert job.status == JobStatus.ABORTED and job.status_reason == "aborted by bob"
    assert job.current_round == 3


def test_update_job_unknown_is_job_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.update_job("nope", current_round=1)


# -- list_jobs ------------------------------------------------------------------------------
@pytest.fixture
def many_jobs(store: StateStore) -> StateStore:
    # Inserted out of submit order, so ordering cannot come from insertion.
    specs = [
        ("c-3", "train_b", "s1", 3.0),
        ("a-1", "train_a", "s1", 1.0),
        ("b-2", "Train_a", "s2", 2.0),
        ("d-4", "eval%x", "s2", 4.0),
        ("a_5", "eval_y", "s1", 5.0),
    ]
    for job_id, name, study, t in specs:
        make_job(store, job_id, name=name, study=study, submit_time=T0 + t)
    drive(store, "b-2", JobStatus.RUNNING)
    drive(store, "d-4", JobStatus.ABORTED)
    return store


def ids(records: list[Any]) -> list[str]:
    return [r.job_id for r in records]


def test_list_jobs_oldest_first_and_reverse(many_jobs: StateStore) -> None:
    assert ids(many_jobs.list_jobs()) == ["a-1", "b-2", "c-3", "d-4", "a_5"]
    assert ids(many_jobs.list_jobs(JobFilter())) == ["a-1", "b-2", "c-3", "d-4", "a_5"]
    assert ids(many_jobs.list_jobs(JobFilter(reverse=True))) == ["a_5", "d-4", "c-3", "b-2", "a-1"]


def test_list_jobs_limit_takes_from_the_ordered_end(many_jobs: StateStore) -> None:
    assert ids(many_jobs.list_jobs(JobFilter(limit=2))) == ["a-1", "b-2"]
    assert ids(many_jobs.list_jobs(JobFilter(limit=2, reverse=True))) == ["a_5", "d-4"]
    assert many_jobs.list_jobs(JobFilter(limit=0)) == []
    assert len(many_jobs.list_jobs(JobFilter(limit=100))) == 5


def test_list_jobs_filters(many_jobs: StateStore) -> None:
    assert ids(many_jobs.list_jobs(JobFilter(study="s2"))) == ["b-2", "d-4"]
    assert ids(many_jobs.list_jobs(JobFilter(id_prefix="a"))) == ["a-1", "a_5"]
    assert ids(many_jobs.list_jobs(JobFilter(id_prefix="a-"))) == ["a-1"]
    assert ids(many_jobs.list_jobs(JobFilter(name_prefix="train"))) == ["a-1", "c-3"]
    assert ids(many_jobs.list_jobs(JobFilter(name_prefix="Train"))) == ["b-2"]
    statuses = [JobStatus.RUNNING, JobStatus.ABORTED]
    assert ids(many_jobs.list_jobs(JobFilter(statuses=statuses))) == ["b-2", "d-4"]
    assert ids(many_jobs.list_jobs(JobFilter(statuses=[JobStatus.SUBMITTED], study="s1"))) == [
        "a-1",
        "c-3",
        "a_5",
    ]
    both = JobFilter(study="s1", name_prefix="train", statuses=[JobStatus.SUBMITTED], limit=1)
    assert ids(many_jobs.list_jobs(both)) == ["a-1"]


def test_list_jobs_prefixes_are_literal(many_jobs: StateStore) -> None:
    """LIKE wildcards in a prefix are plain characters."""
    assert ids(many_jobs.list_jobs(JobFilter(name_prefix="eval%"))) == ["d-4"]
    assert ids(many_jobs.list_jobs(JobFilter(name_prefix="eval_"))) == ["a_5"]
    assert ids(many_jobs.list_jobs(JobFilter(id_prefix="a_"))) == ["a_5"]
    assert many_jobs.list_jobs(JobFilter(id_prefix="%")) == []


def test_list_jobs_empty_store(store: StateStore) -> None:
    assert store.list_jobs() == []


# -- delete_job -----------------------------------------------------------------------------
def count_rows(store: StateStore, job_id: str) -> dict[str, int]:
    assert isinstance(store, SQLStore)
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.job_id == job_id)
            ).scalar_one()
            for table in (jobs, rounds, tasks, updates)
        }


def test_delete_job_removes_rounds_tasks_and_updates(store: StateStore) -> None:
    gone = ""
    for job_id in ("job-1", "job-2"):
        make_job(store, job_id)
        store.add_round(
            job_id=job_id,
            round=0,
            model_path="m",
            model_sha256="c" * 64,
            num_updates=0,
            num_samples=0,
            now=T0,
        )
        created = make_tasks(store, job_id)
        upload(store, created[0].task_id)
        gone = gone if job_id == "job-2" else created[0].task_id
    assert count_rows(store, "job-1") == {"jobs": 1, "rounds": 1, "tasks": 2, "updates": 1}
    store.delete_job("job-1")
    assert count_rows(store, "job-1") == {"jobs": 0, "rounds": 0, "tasks": 0, "updates": 0}
    assert count_rows(store, "job-2") == {"jobs": 1, "rounds": 1, "tasks": 2, "updates": 1}
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.get_job("job-1")
    with expect_not_found(ErrorCode.TASK_NOT_FOUND):
        store.get_task(gone)


def test_delete_job_cascades_in_the_database(store: StateStore) -> None:
    """The foreign keys themselves cascade (for writers that delete only the job row)."""
    assert isinstance(store, SQLStore)
    make_job(store)
    task = make_tasks(store)[0]
    upload(store, task.task_id)
    store.add_round(
        job_id="job-1",
        round=0,
        model_path="m",
        model_sha256="c" * 64,
        num_updates=1,
        num_samples=10,
        now=T0,
    )
    with store.engine.begin() as conn:
        conn.execute(sa.delete(jobs).where(jobs.c.job_id == "job-1"))
    assert count_rows(store, "job-1") == {"jobs": 0, "rounds": 0, "tasks": 0, "updates": 0}


def test_delete_job_unknown_is_job_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.delete_job("nope")


# -- sites ----------------------------------------------------------------------------------
def test_touch_site_creates_then_updates(store: StateStore) -> None:
    site = store.touch_site("site-a", org="org-a", now=T0)
    assert (site.name, site.org, site.enabled) == ("site-a", "org-a", True)
    assert site.first_seen == site.last_seen == T0
    site = store.touch_site("site-a", org="org-a", now=T0 + 5)
    assert site.first_seen == T0 and site.last_seen == T0 + 5
    assert store.get_site("site-a") == site


def test_touch_site_last_seen_never_goes_back(store: StateStore) -> None:
    store.touch_site("site-a", org="org-a", now=T0 + 5)
    site = store.touch_site("site-a", org="org-a", now=T0 + 1)
    assert site.last_seen == T0 + 5


def test_list_sites_by_name(store: StateStore) -> None:
    for name in ("site-c", "site-a", "site-b"):
        store.touch_site(name, org="o", now=T0)
    assert [s.name for s in store.list_sites()] == ["site-a", "site-b", "site-c"]


def test_set_site_enabled(store: StateStore) -> None:
    store.touch_site("site-a", org="o", now=T0)
    assert store.set_site_enabled("site-a", False).enabled is False
    assert store.get_site("site-a").enabled is False
    assert store.touch_site("site-a", org="o", now=T0 + 1).enabled is False, "contact != enable"
    assert store.set_site_enabled("site-a", True).enabled is True


def test_unknown_site_is_site_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.SITE_NOT_FOUND):
        store.get_site("nope")
    with expect_not_found(ErrorCode.SITE_NOT_FOUND):
        store.set_site_enabled("nope", False)


def test_racing_first_contact_creates_one_site(store: StateStore) -> None:
    results = race(8, lambda i: store.touch_site("site-a", org="o", now=T0 + i))
    assert all(r is not None for r in results)
    sites = store.list_sites()
    assert len(sites) == 1 and sites[0].last_seen == T0 + 7


# -- rounds ---------------------------------------------------------------------------------
def add_round(store: StateStore, round: int, sha: str = "c" * 64, now: float = T0) -> Any:
    return store.add_round(
        job_id="job-1",
        round=round,
        model_path=f"jobs/job-1/rounds/{round}/global.safetensors",
        model_sha256=sha,
        num_updates=2,
        num_samples=20,
        now=now,
    )


def test_add_round_and_list_in_order(store: StateStore) -> None:
    make_job(store)
    for r in (2, 0, 1):
        rec = add_round(store, r, now=T0 + r)
        assert (rec.job_id, rec.round, rec.num_updates, rec.num_samples) == ("job-1", r, 2, 20)
        assert rec.metrics == {} and rec.created == T0 + r
    assert [r.round for r in store.list_rounds("job-1")] == [0, 1, 2]


def test_add_round_retry_same_checksum_returns_stored(store: StateStore) -> None:
    make_job(store)
    first = add_round(store, 0, now=T0)
    again = add_round(store, 0, now=T0 + 50)
    assert again == first, "the stored record, not the retried values"
    assert len(store.list_rounds("job-1")) == 1


def test_add_round_other_checksum_is_conflict(store: StateStore) -> None:
    make_job(store)
    add_round(store, 0)
    with pytest.raises(Conflict):
        add_round(store, 0, sha="d" * 64)
    assert store.list_rounds("job-1")[0].model_sha256 == "c" * 64


def test_add_round_unknown_job(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        add_round(store, 0)
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.list_rounds("job-1")


def test_set_round_metrics_merges(store: StateStore) -> None:
    make_job(store)
    add_round(store, 0)
    store.set_round_metrics("job-1", 0, {"acc": 0.5, "loss": 1.0})
    rec = store.set_round_metrics("job-1", 0, {"acc": 0.75, "f1": 0.25})
    assert rec.metrics == {"acc": 0.75, "loss": 1.0, "f1": 0.25}
    assert store.list_rounds("job-1")[0].metrics == rec.metrics


def test_set_round_metrics_keeps_non_finite_values(store: StateStore) -> None:
    """A diverged model's NaN loss is stored (PostgreSQL JSON has no NaN token)."""
    make_job(store)
    add_round(store, 0)
    rec = store.set_round_metrics("job-1", 0, {"loss": math.nan, "up": math.inf, "dn": -math.inf})
    stored = store.list_rounds("job-1")[0].metrics
    for metrics in (rec.metrics, stored):
        assert math.isnan(metrics["loss"]) and metrics["up"] == math.inf
        assert metrics["dn"] == -math.inf


def test_set_round_metrics_unknown_round_or_job(store: StateStore) -> None:
    make_job(store)
    with pytest.raises(NotFound):
        store.set_round_metrics("job-1", 7, {"acc": 1.0})
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.set_round_metrics("nope", 0, {"acc": 1.0})


# -- tasks ----------------------------------------------------------------------------------
def test_create_tasks_one_pending_task_per_site(store: StateStore) -> None:
    make_job(store)
    created = make_tasks(store, sites=["site-b", "site-a", "site-c"], meta={"epochs": 2})
    assert [t.site for t in created] == ["site-b", "site-a", "site-c"]
    assert len({t.task_id for t in created}) == 3
    for task in created:
        assert len(task.task_id) == 32 and int(task.task_id, 16) >= 0  # uuid4 hex
        assert task.status == TaskStatus.PENDING
        assert (task.job_id, task.round, task.name) == ("job-1", 0, "train")
        assert task.deadline == T0 + 600 and task.meta == {"epochs": 2}
        assert store.get_task(task.task_id) == task


def test_create_tasks_unknown_job(store: StateStore) -> None:
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        make_tasks(store, "nope")


def test_failed_method_leaves_no_partial_write(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction per method: a create_tasks whose second insert fails adds no task."""
    make_job(store)
    fixed = uuid.UUID(int=1)
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)  # two tasks, one id: the insert fails
    with pytest.raises(sa.exc.IntegrityError):
        make_tasks(store, sites=["site-a", "site-b"])
    monkeypatch.undo()
    assert store.list_tasks("job-1") == []
    assert len(make_tasks(store)) == 2


def test_get_task_unknown_is_task_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.TASK_NOT_FOUND):
        store.get_task("nope")


def test_list_tasks_oldest_first_and_by_round(store: StateStore) -> None:
    make_job(store)
    r1 = make_tasks(store, round=1)  # created at T0+11
    make_tasks(store, round=0)  # created at T0+10: older, though inserted later
    assert [(t.round, t.site) for t in store.list_tasks("job-1")] == [
        (0, "site-a"),
        (0, "site-b"),
        (1, "site-a"),
        (1, "site-b"),
    ]
    assert [t.task_id for t in store.list_tasks("job-1", round=1)] == [t.task_id for t in r1]
    assert store.list_tasks("job-1", round=9) == []
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.list_tasks("nope")


def test_open_tasks_for_returns_pending_and_fetched_oldest_first(store: StateStore) -> None:
    make_job(store)
    make_job(store, "job-2")
    old = make_tasks(store, round=0, sites=["site-a", "site-b"])
    new = make_tasks(store, round=1, sites=["site-a"])
    done = make_tasks(store, round=2, sites=["site-a"])
    make_tasks(store, "job-2", round=0, sites=["site-a"])
    store.set_task_status(new[0].task_id, TaskStatus.FETCHED)
    store.set_task_status(done[0].task_id, TaskStatus.TIMEOUT)
    open_a = store.open_tasks_for("job-1", "site-a")
    assert [t.task_id for t in open_a] == [old[0].task_id, new[0].task_id]
    assert [t.status for t in open_a] == [TaskStatus.PENDING, TaskStatus.FETCHED]
    assert [t.task_id for t in store.open_tasks_for("job-1", "site-b")] == [old[1].task_id]
    assert store.open_tasks_for("job-1", "site-z") == []
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.open_tasks_for("nope", "site-a")


@pytest.mark.parametrize("old", list(TaskStatus), ids=str)
def test_set_task_status_follows_the_state_machine(store: StateStore, old: TaskStatus) -> None:
    make_job(store)
    created = make_tasks(store, sites=[f"s{i}" for i in range(len(TaskStatus))])
    for task, new in zip(created, TaskStatus, strict=True):
        for step in task_path_to(old):
            assert store.set_task_status(task.task_id, step) is not None
        result = store.set_task_status(task.task_id, new)
        after = store.get_task(task.task_id)
        if check_task_transition(old, new):
            assert result == after and after.status == new
        else:
            assert result is None and after.status == old


def test_set_task_status_unknown_is_task_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.TASK_NOT_FOUND):
        store.set_task_status("nope", TaskStatus.FETCHED)


def test_cancel_open_tasks(store: StateStore) -> None:
    make_job(store)
    make_job(store, "job-2")
    created = make_tasks(store, sites=["a", "b", "c", "d"])
    other = make_tasks(store, "job-2", sites=["a"])
    store.set_task_status(created[1].task_id, TaskStatus.FETCHED)
    upload(store, created[2].task_id)
    store.set_task_status(created[3].task_id, TaskStatus.FAILED)
    assert store.cancel_open_tasks("job-1") == 2
    statuses = {t.site: t.status for t in store.list_tasks("job-1")}
    assert statuses == {
        "a": TaskStatus.CANCELLED,
        "b": TaskStatus.CANCELLED,
        "c": TaskStatus.DONE,
        "d": TaskStatus.FAILED,
    }
    assert store.get_task(other[0].task_id).status == TaskStatus.PENDING
    assert store.cancel_open_tasks("job-1") == 0
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.cancel_open_tasks("nope")


# -- updates --------------------------------------------------------------------------------
def test_add_update_stores_and_marks_task_done(store: StateStore) -> None:
    make_job(store)
    task = make_tasks(store, round=3)[0]
    store.set_task_status(task.task_id, TaskStatus.FETCHED)
    record, created = upload(store, task.task_id)
    assert created is True
    assert (record.task_id, record.job_id, record.site, record.round) == (
        task.task_id,
        "job-1",
        task.site,
        3,
    )
    assert record.num_samples == 10 and record.metrics == {"loss": 0.5}
    assert record.received == T0 + 50
    assert store.get_task(task.task_id).status == TaskStatus.DONE
    assert store.list_updates("job-1") == [record]


def test_add_update_same_upload_again_is_idempotent(store: StateStore) -> None:
    make_job(store)
    task = make_tasks(store)[0]
    first, _ = upload(store, task.task_id, now=T0 + 50)
    again, created = upload(store, task.task_id, now=T0 + 99)
    assert created is False and again == first
    assert len(store.list_updates("job-1")) == 1


def test_add_update_other_checksum_for_done_task_is_task_not_active(store: StateStore) -> None:
    make_job(store)
    task = make_tasks(store)[0]
    upload(store, task.task_id)
    with pytest.raises(Conflict) as info:
        upload(store, task.task_id, sha="e" * 64)
    assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert store.list_updates("job-1")[0].sha256 == "b" * 64


@pytest.mark.parametrize("closed", sorted(TASK_TERMINAL - {TaskStatus.DONE}), ids=str)
def test_add_update_for_closed_task_is_task_not_active(
    store: StateStore, closed: TaskStatus
) -> None:
    make_job(store)
    task = make_tasks(store)[0]
    store.set_task_status(task.task_id, closed)
    with pytest.raises(Conflict) as info:
        upload(store, task.task_id)
    assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert store.get_task(task.task_id).status == closed
    assert store.list_updates("job-1") == []


def test_add_update_unknown_task_is_task_not_found(store: StateStore) -> None:
    with expect_not_found(ErrorCode.TASK_NOT_FOUND):
        upload(store, "nope")


def test_racing_uploads_of_one_task_store_one_update(store: StateStore) -> None:
    make_job(store)
    task = make_tasks(store)[0]
    results = race(8, lambda i: upload(store, task.task_id, now=T0 + i))
    assert sum(created for _, created in results) == 1
    first = results[0][0]
    assert all(rec == first for rec, _ in results), "every racer sees the one stored update"
    assert store.list_updates("job-1") == [first]


def test_uploads_racing_cancel_leave_consistent_tasks(store: StateStore) -> None:
    """Results arriving while the job's tasks are cancelled: each task ends DONE with its
    update or CANCELLED without one, and no writer fails (no deadlock)."""
    make_job(store)
    created = make_tasks(store, sites=[f"site-{i}" for i in range(7)])

    def work(i: int) -> object:
        if i == 7:
            return store.cancel_open_tasks("job-1")
        try:
            return upload(store, created[i].task_id)
        except Conflict as exc:
            assert exc.code == ErrorCode.TASK_NOT_ACTIVE
            return exc

    results = race(8, work)
    done = {u.task_id for u in store.list_updates("job-1")}
    for task in store.list_tasks("job-1"):
        assert task.status == (TaskStatus.DONE if task.task_id in done else TaskStatus.CANCELLED)
    assert results[7] == 7 - len(done)


def test_list_updates_arrival_order_and_round(store: StateStore) -> None:
    make_job(store)
    r0 = make_tasks(store, round=0, sites=["a", "b"])
    r1 = make_tasks(store, round=1, sites=["a"])
    upload(store, r0[1].task_id, now=T0 + 60)
    upload(store, r1[0].task_id, now=T0 + 70)
    upload(store, r0[0].task_id, now=T0 + 80)
    assert [u.site for u in store.list_updates("job-1")] == ["b", "a", "a"]
    assert [u.round for u in store.list_updates("job-1")] == [0, 1, 0]
    assert [u.task_id for u in store.list_updates("job-1", round=0)] == [
        r0[1].task_id,
        r0[0].task_id,
    ]
    with expect_not_found(ErrorCode.JOB_NOT_FOUND):
        store.list_updates("nope")


# -- lifecycle ------------------------------------------------------------------------------
def test_closed_store_refuses_use(db_url: str) -> None:
    st = SQLStore(db_url)
    st.close()
    with pytest.raises(RuntimeError):
        st.list_jobs()
