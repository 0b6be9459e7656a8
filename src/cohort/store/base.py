"""The state store contract: every implementation MUST behave as these docstrings say.

One contract test suite (``tests/store/test_contract.py``) runs against every implementation
(SQLite file, SQLite memory, PostgreSQL). The server's service layer is its only writer.
"""

from __future__ import annotations

import abc
from typing import Any

from cohort.schemas.records import (
    ApiTokenRecord,
    JobRecord,
    RoundRecord,
    SiteRecord,
    SubmitTokenRecord,
    TaskRecord,
    UpdateRecord,
)
from cohort.states import JobStatus, TaskStatus
from cohort.store.studies import AuditLog, StudyRegistry

__all__ = ["JobFilter", "StateStore"]


class JobFilter:
    """Filters for :meth:`StateStore.list_jobs`; every field is optional."""

    def __init__(
        self,
        *,
        study: str | None = None,
        id_prefix: str | None = None,
        name_prefix: str | None = None,
        statuses: list[JobStatus] | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> None:
        self.study = study
        self.id_prefix = id_prefix
        self.name_prefix = name_prefix
        self.statuses = statuses
        self.limit = limit
        self.reverse = reverse


class StateStore(StudyRegistry, AuditLog, abc.ABC):
    """Durable state of the federation. Every method is a single transaction.

    Times are POSIX seconds (float). Unknown ids raise :class:`cohort.errors.NotFound` with the
    matching code (JOB_NOT_FOUND, TASK_NOT_FOUND, SITE_NOT_FOUND).
    """

    # -- jobs -------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_job(
        self,
        *,
        job_id: str,
        name: str,
        study: str,
        submitter: str,
        meta: dict[str, Any],
        job_sha256: str,
        submit_time: float,
        submitter_org: str = "",
        submitter_role: str = "",
    ) -> JobRecord:
        """Insert a job in SUBMITTED with version 1.

        MUST raise Conflict(CONFLICT) if ``job_id`` exists.
        """

    @abc.abstractmethod
    def get_job(self, job_id: str) -> JobRecord:
        """Return the job. MUST raise NotFound(JOB_NOT_FOUND) for an unknown id."""

    @abc.abstractmethod
    def list_jobs(self, flt: JobFilter | None = None) -> list[JobRecord]:
        """Return jobs matching every given filter, oldest submit first (newest first when
        ``reverse``), at most ``limit`` of them."""

    @abc.abstractmethod
    def set_job_status(
        self,
        job_id: str,
        new: JobStatus,
        *,
        reason: str | None = None,
        now: float,
    ) -> JobRecord | None:
        """Move the job to ``new`` if :func:`cohort.states.check_job_transition` allows it.

        Reads and writes in one transaction (the row is locked where the database can), so two
        racing writers cannot both win. Sets ``start_time`` on RUNNING and ``end_time`` on a
        terminal status, sets ``status_reason`` when ``reason`` is given, bumps ``version``.
        MUST return None (and change nothing) when the transition is not allowed, e.g. any
        change out of a terminal status. MUST raise NotFound for an unknown job.
        """

    @abc.abstractmethod
    def update_job(
        self,
        job_id: str,
        *,
        status_reason: str | None = None,
        current_round: int | None = None,
        total_rounds: int | None = None,
        sites: list[str] | None = None,
        add_site_error: dict[str, Any] | None = None,
        merge_meta: dict[str, Any] | None = None,
    ) -> JobRecord:
        """Change the given progress fields (None leaves a field alone); bumps ``version``.

        ``add_site_error`` is appended to ``site_errors``; ``merge_meta``'s keys replace
        those of ``meta`` (server-side facts such as ``restarts``). MUST NOT change the
        status. A call with no field MUST still bump ``version`` (a touch that wakes
        waiters). Once the job is terminal its ``status_reason`` is final: a given one MUST be
        ignored.
        """

    @abc.abstractmethod
    def delete_job(self, job_id: str, *, now: float | None = None) -> int:
        """Remove the job with its rounds, tasks and updates. MUST raise NotFound if unknown.

        In the same transaction, every submit-token record of the job MUST be marked
        ``job_deleted`` with ``deleted_time`` = ``now`` (the current time when None) and kept;
        returns how many records were marked.
        """

    # -- submit tokens ----------------------------------------------------------------------
    @abc.abstractmethod
    def create_job_with_token(
        self,
        *,
        job_id: str,
        name: str,
        study: str,
        submitter: str,
        meta: dict[str, Any],
        job_sha256: str,
        submit_time: float,
        token: str,
        content_sha256: str,
        submitter_org: str = "",
        submitter_role: str = "",
    ) -> tuple[JobRecord, bool]:
        """Create a job and its submit-token record atomically, or resolve an earlier submit.

        The token's scope is (``study``, ``submitter``, ``token``). With no record in that
        scope, the job (as :meth:`create_job`) and an ``active`` record pointing at it are
        inserted in one transaction and ``(job, True)`` is returned. With a record:

        * state ``job_deleted``: MUST raise Conflict(SUBMIT_TOKEN_JOB_DELETED) with details
          ``job_id``, ``state`` and ``deleted_time`` (ISO 8601), creating nothing;
        * same ``content_sha256``: MUST return ``(existing job, False)``, creating nothing;
        * other content: MUST raise Conflict(SUBMIT_TOKEN_CONFLICT) with the existing
          ``job_id`` in details, creating nothing.

        Any number of concurrent calls for one scope MUST create exactly one job, and every
        call that does not raise MUST return that job. The same token in another study or by
        another submitter is another scope.
        """

    @abc.abstractmethod
    def get_submit_token(
        self, *, study: str, submitter: str, token: str
    ) -> SubmitTokenRecord | None:
        """Return the record of a token's scope, or None when the token was never used there."""

    # -- API tokens -------------------------------------------------------------------------
    @abc.abstractmethod
    def add_api_token(self, record: ApiTokenRecord) -> ApiTokenRecord:
        """Insert a token record. MUST raise Conflict(CONFLICT) if ``token_id`` exists."""

    @abc.abstractmethod
    def get_api_token(self, token_id: str) -> ApiTokenRecord | None:
        """Return the token record, or None for an unknown id."""

    @abc.abstractmethod
    def list_api_tokens(self) -> list[ApiTokenRecord]:
        """Return every token record (revoked ones too), oldest first."""

    @abc.abstractmethod
    def revoke_api_token(self, token_id: str, *, now: float) -> ApiTokenRecord:
        """Set ``revoked`` to ``now`` unless already revoked (the first time stands).

        MUST raise NotFound(NOT_FOUND) for an unknown id.
        """

    # -- sites ------------------------------------------------------------------------------
    @abc.abstractmethod
    def touch_site(self, name: str, *, org: str, now: float) -> SiteRecord:
        """Record that the site was heard from at ``now`` (creating it on first contact)."""

    @abc.abstractmethod
    def get_site(self, name: str) -> SiteRecord:
        """Return the site. MUST raise NotFound(SITE_NOT_FOUND) for an unknown name."""

    @abc.abstractmethod
    def list_sites(self) -> list[SiteRecord]:
        """Return every known site, by name."""

    @abc.abstractmethod
    def set_site_enabled(self, name: str, enabled: bool) -> SiteRecord:
        """Enable or disable a site. MUST raise NotFound for an unknown name."""

    # -- rounds: the model trail ------------------------------------------------------------
    @abc.abstractmethod
    def add_round(
        self,
        *,
        job_id: str,
        round: int,
        model_path: str,
        model_sha256: str,
        num_updates: int,
        num_samples: int,
        now: float,
    ) -> RoundRecord:
        """Record a round's global model.

        Writing the same round again with the same checksum MUST return the stored record (a
        retried write); with another checksum it MUST raise Conflict.
        """

    @abc.abstractmethod
    def set_round_metrics(self, job_id: str, round: int, metrics: dict[str, float]) -> RoundRecord:
        """Merge ``metrics`` into the round's metrics. MUST raise NotFound for an unknown round."""

    @abc.abstractmethod
    def list_rounds(self, job_id: str) -> list[RoundRecord]:
        """Return the job's model trail, by round."""

    # -- tasks ------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_tasks(
        self,
        *,
        job_id: str,
        round: int,
        name: str,
        sites: list[str],
        model_path: str,
        deadline: float,
        now: float,
        meta: dict[str, Any] | None = None,
    ) -> list[TaskRecord]:
        """Create one PENDING task per site, all in one transaction; ids are unique strings."""

    @abc.abstractmethod
    def get_task(self, task_id: str) -> TaskRecord:
        """Return the task. MUST raise NotFound(TASK_NOT_FOUND) for an unknown id."""

    @abc.abstractmethod
    def open_tasks_for(self, job_id: str, site: str) -> list[TaskRecord]:
        """Return the site's PENDING or FETCHED tasks of the job, oldest first."""

    @abc.abstractmethod
    def list_tasks(self, job_id: str, round: int | None = None) -> list[TaskRecord]:
        """Return the job's tasks (of one round when given), oldest first."""

    @abc.abstractmethod
    def set_task_status(self, task_id: str, new: TaskStatus) -> TaskRecord | None:
        """Move a task if :func:`cohort.states.check_task_transition` allows it, else return
        None and change nothing. MUST raise NotFound for an unknown id."""

    @abc.abstractmethod
    def cancel_open_tasks(self, job_id: str) -> int:
        """Move every PENDING or FETCHED task of the job to CANCELLED; return how many."""

    # -- updates ----------------------------------------------------------------------------
    @abc.abstractmethod
    def add_update(
        self,
        *,
        task_id: str,
        path: str,
        sha256: str,
        num_samples: int,
        metrics: dict[str, float],
        now: float,
    ) -> tuple[UpdateRecord, bool]:
        """Store a site's result for an open task and mark the task DONE, in one transaction.

        Returns ``(record, created)``. The same upload again (same task, same checksum) MUST
        return the stored record with ``created=False``; another checksum for a DONE task MUST
        raise Conflict(TASK_NOT_ACTIVE), as MUST a result for a task that is not open.
        """

    @abc.abstractmethod
    def list_updates(self, job_id: str, round: int | None = None) -> list[UpdateRecord]:
        """Return the job's updates (of one round when given), in arrival order."""

    # -- lifecycle --------------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store MUST NOT be used after."""
