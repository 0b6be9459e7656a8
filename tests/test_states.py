"""The job and task state machines: terminal statuses are final, and the table is exact."""

from __future__ import annotations

import itertools

import pytest

from cohort.states import (
    JOB_TERMINAL,
    TASK_TERMINAL,
    JobStatus,
    TaskStatus,
    check_job_transition,
    check_task_transition,
    is_terminal,
)

J = JobStatus
T = TaskStatus

#: Every job transition the platform may make; anything else must be refused.
ALLOWED_JOB = {
    (J.SUBMITTED, J.DISPATCHED),
    (J.SUBMITTED, J.ABORTED),
    (J.SUBMITTED, J.FAILED),
    (J.DISPATCHED, J.RUNNING),
    (J.DISPATCHED, J.ABORTED),
    (J.DISPATCHED, J.FAILED),
    (J.DISPATCHED, J.FINISHED_EXCEPTION),
    (J.DISPATCHED, J.ABANDONED),
    (J.RUNNING, J.FINISHED_OK),
    (J.RUNNING, J.FINISHED_EXCEPTION),
    (J.RUNNING, J.ABORTED),
    (J.RUNNING, J.ABANDONED),
    (J.RUNNING, J.FAILED),
}

ALLOWED_TASK = {
    (T.PENDING, T.FETCHED),
    (T.PENDING, T.DONE),
    (T.PENDING, T.FAILED),
    (T.PENDING, T.TIMEOUT),
    (T.PENDING, T.CANCELLED),
    (T.FETCHED, T.FETCHED),
    (T.FETCHED, T.DONE),
    (T.FETCHED, T.FAILED),
    (T.FETCHED, T.TIMEOUT),
    (T.FETCHED, T.CANCELLED),
}


def test_terminal_set() -> None:
    assert {J.FINISHED_OK, J.FINISHED_EXCEPTION, J.ABORTED, J.ABANDONED, J.FAILED} == JOB_TERMINAL
    assert {T.DONE, T.FAILED, T.TIMEOUT, T.CANCELLED} == TASK_TERMINAL


@pytest.mark.parametrize("status", list(JobStatus))
def test_is_terminal(status: JobStatus) -> None:
    assert is_terminal(status) == (status in JOB_TERMINAL)
    assert is_terminal(status.value) == (status in JOB_TERMINAL)


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.product(sorted(JOB_TERMINAL), list(JobStatus)))
)
def test_terminal_job_status_refuses_every_transition(old: JobStatus, new: JobStatus) -> None:
    assert not check_job_transition(old, new)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(list(JobStatus), list(JobStatus))))
def test_job_transition_table(old: JobStatus, new: JobStatus) -> None:
    assert check_job_transition(old, new) == ((old, new) in ALLOWED_JOB)
    assert check_job_transition(old.value, new.value) == ((old, new) in ALLOWED_JOB)


@pytest.mark.parametrize("status", list(JobStatus))
def test_same_job_status_is_not_a_change(status: JobStatus) -> None:
    assert not check_job_transition(status, status)


def test_no_way_back_to_submitted() -> None:
    assert not any(check_job_transition(old, J.SUBMITTED) for old in JobStatus)


def test_every_live_status_can_end() -> None:
    for status in set(JobStatus) - JOB_TERMINAL:
        assert check_job_transition(status, J.ABORTED)
        assert check_job_transition(status, J.FAILED)


def test_finished_ok_only_from_running() -> None:
    assert [s for s in JobStatus if check_job_transition(s, J.FINISHED_OK)] == [J.RUNNING]


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.product(list(TaskStatus), list(TaskStatus)))
)
def test_task_transition_table(old: TaskStatus, new: TaskStatus) -> None:
    assert check_task_transition(old, new) == ((old, new) in ALLOWED_TASK)
    assert check_task_transition(old.value, new.value) == ((old, new) in ALLOWED_TASK)


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.product(sorted(TASK_TERMINAL), list(TaskStatus)))
)
def test_terminal_task_status_refuses_every_transition(old: TaskStatus, new: TaskStatus) -> None:
    assert not check_task_transition(old, new)


def test_refetch_is_allowed_but_not_unfetch() -> None:
    assert check_task_transition(T.FETCHED, T.FETCHED)
    assert not check_task_transition(T.FETCHED, T.PENDING)
    assert not check_task_transition(T.PENDING, T.PENDING)


@pytest.mark.parametrize("bad", ["", "finished_ok", "COMPLETED", "DONE"])
def test_unknown_job_status_raises(bad: str) -> None:
    with pytest.raises(ValueError):
        check_job_transition(J.RUNNING, bad)
    with pytest.raises(ValueError):
        is_terminal(bad)


def test_unknown_task_status_raises() -> None:
    with pytest.raises(ValueError):
        check_task_transition(T.PENDING, "RUNNING")


def test_status_values_are_their_names() -> None:
    assert all(s.value == s.name for s in JobStatus)
    assert all(s.value == s.name for s in TaskStatus)
