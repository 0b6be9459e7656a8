"""The job and task state machines: statuses, allowed transitions and the terminal set.

Every status change in Cohort goes through :func:`check_job_transition` (the store calls it inside
the transaction that writes the change), so a terminal status is final everywhere: no late write
from a slow process can move a finished job back.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "JOB_TERMINAL",
    "JobStatus",
    "TaskStatus",
    "check_job_transition",
    "check_task_transition",
    "is_terminal",
]


class JobStatus(StrEnum):
    """Status of a job, as stored and as shown on every face (CLI, session API, REST)."""

    SUBMITTED = "SUBMITTED"
    DISPATCHED = "DISPATCHED"
    RUNNING = "RUNNING"
    FINISHED_OK = "FINISHED_OK"
    FINISHED_EXCEPTION = "FINISHED_EXCEPTION"
    ABORTED = "ABORTED"
    ABANDONED = "ABANDONED"
    FAILED = "FAILED"


JOB_TERMINAL: frozenset[JobStatus] = frozenset(
    {
        JobStatus.FINISHED_OK,
        JobStatus.FINISHED_EXCEPTION,
        JobStatus.ABORTED,
        JobStatus.ABANDONED,
        JobStatus.FAILED,
    }
)

_JOB_NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    # A job waiting for sites may be dispatched, cancelled, or given up on (scheduling timeout).
    JobStatus.SUBMITTED: frozenset({JobStatus.DISPATCHED, JobStatus.ABORTED, JobStatus.FAILED}),
    # Dispatched: the server job process is starting; it may fail to start or be aborted.
    JobStatus.DISPATCHED: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.ABORTED,
            JobStatus.FAILED,
            JobStatus.FINISHED_EXCEPTION,
            JobStatus.ABANDONED,
        }
    ),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.FINISHED_OK,
            JobStatus.FINISHED_EXCEPTION,
            JobStatus.ABORTED,
            JobStatus.ABANDONED,
            JobStatus.FAILED,
        }
    ),
}


class TaskStatus(StrEnum):
    """Status of one task sent to one site (train, validate, ...)."""

    PENDING = "PENDING"  # created, not yet fetched by the site
    FETCHED = "FETCHED"  # the site has the task and is working on it
    DONE = "DONE"  # the site's result is stored
    FAILED = "FAILED"  # the site reported a failure, or left
    TIMEOUT = "TIMEOUT"  # no result before the task's deadline
    CANCELLED = "CANCELLED"  # the job ended before the task did


TASK_TERMINAL: frozenset[TaskStatus] = frozenset(
    {TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.TIMEOUT, TaskStatus.CANCELLED}
)

_TASK_NEXT: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset(TASK_TERMINAL | {TaskStatus.FETCHED}),
    # A restarted site may fetch the same task again: FETCHED -> FETCHED is allowed.
    TaskStatus.FETCHED: frozenset(TASK_TERMINAL | {TaskStatus.FETCHED}),
}


def is_terminal(status: JobStatus | str) -> bool:
    """Return True when ``status`` is one of the final job statuses."""
    return JobStatus(status) in JOB_TERMINAL


def check_job_transition(old: JobStatus | str, new: JobStatus | str) -> bool:
    """Return True when a job may move from ``old`` to ``new``.

    A transition to the same status is not a change and is refused, so callers can tell a
    write that did something from one that lost a race.
    """
    return JobStatus(new) in _JOB_NEXT.get(JobStatus(old), frozenset())


def check_task_transition(old: TaskStatus | str, new: TaskStatus | str) -> bool:
    """Return True when a task may move from ``old`` to ``new``."""
    return TaskStatus(new) in _TASK_NEXT.get(TaskStatus(old), frozenset())
