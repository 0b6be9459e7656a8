"""The SQL state store: SQLite (file or memory) and PostgreSQL through SQLAlchemy Core.

Every public method runs in exactly one transaction. Transactions that write take the write
lock up front: ``SELECT ... FOR UPDATE`` on the rows they check on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite (see :mod:`cohort.store.sql_engine`), so a read-check-write sequence such
as a status change cannot be interleaved with another writer's, in this process or another.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from cohort.faults import fault_point
from cohort.schemas.records import (
    ApiTokenRecord,
    JobRecord,
    RoundRecord,
    SiteRecord,
    SubmitTokenRecord,
    TaskRecord,
    UpdateRecord,
)
from cohort.states import (
    JOB_TERMINAL,
    JobStatus,
    TaskStatus,
    check_job_transition,
    check_task_transition,
)
from cohort.store import sql_api_tokens, sql_tokens
from cohort.store.base import JobFilter, StateStore
from cohort.store.migrate import upgrade_engine
from cohort.store.sql_engine import IMMEDIATE, make_engine
from cohort.store.sql_studies import SQLStudiesMixin
from cohort.store.sql_tables import jobs, rounds, sites, tasks, updates
from cohort.store.tokens import resolve_token

__all__ = ["SQLStore"]

_T = TypeVar("_T")
_OPEN_TASK = (TaskStatus.PENDING.value, TaskStatus.FETCHED.value)


def _job(row: sa.Row[Any]) -> JobRecord:
    return JobRecord.model_validate(dict(row._mapping))


def _site(row: sa.Row[Any]) -> SiteRecord:
    return SiteRecord.model_validate(dict(row._mapping))


def _round(row: sa.Row[Any]) -> RoundRecord:
    return RoundRecord.model_validate(dict(row._mapping))


def _task(row: sa.Row[Any]) -> TaskRecord:
    return TaskRecord.model_validate(dict(row._mapping))


def _update(row: sa.Row[Any]) -> UpdateRecord:
    return UpdateRecord.model_validate(dict(row._mapping))


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(
        f"job {job_id!r} not found", ErrorCode.JOB_NOT_FOUND, details={"job_id": job_id}
    )


def _task_not_found(task_id: str) -> NotFound:
    return NotFound(
        f"task {task_id!r} not found", ErrorCode.TASK_NOT_FOUND, details={"task_id": task_id}
    )


def _site_not_found(name: str) -> NotFound:
    return NotFound(f"site {name!r} not found", ErrorCode.SITE_NOT_FOUND, details={"site": name})


class SQLStore(SQLStudiesMixin, StateStore):
    """A :class:`StateStore` on a SQL database.

    Args:
        url: SQLAlchemy URL: ``sqlite:///path/file.db``, ``sqlite://`` (memory) or
            ``postgresql+psycopg://user@host/db``.
        migrate: bring the schema to the newest revision first (creating it in a new database).
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        info = make_engine(url)
        self._engine = info.engine
        self._dialect = info.dialect
        # In-memory SQLite shares one DBAPI connection: transactions must not interleave on it.
        self._shared_lock: threading.RLock | None = (
            threading.RLock() if info.shared_connection else None
        )
        self._closed = False
        if migrate:
            try:
                with self._guard():
                    upgrade_engine(self._engine)
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def engine(self) -> sa.Engine:
        """The underlying engine (for tests and diagnostics, not for writing state)."""
        return self._engine

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self._shared_lock is None:
            yield
        else:
            with self._shared_lock:
                yield

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction; a writing one holds the SQLite write lock from its first statement."""
        if self._closed:
            raise RuntimeError("the store is closed")
        with self._guard(), self._engine.connect() as conn:
            if write:
                conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn

    def _write_retrying(self, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in a write transaction, once more if it lost an insert race.

        Check-then-insert cannot race on SQLite (the write lock is held), but on PostgreSQL two
        transactions may both see no row and both insert; the loser gets an IntegrityError and
        its retry sees the winner's row and answers as the contract says (Conflict, the stored
        record, ...).
        """
        try:
            with self._tx(write=True) as conn:
                return work(conn)
        except IntegrityError:
            with self._tx(write=True) as conn:
                return work(conn)

    @staticmethod
    def _locked_job(conn: sa.Connection, job_id: str) -> sa.Row[Any]:
        row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id).with_for_update()).first()
        if row is None:
            raise _job_not_found(job_id)
        return row

    @staticmethod
    def _require_job(conn: sa.Connection, job_id: str) -> None:
        found = conn.execute(sa.select(jobs.c.job_id).where(jobs.c.job_id == job_id)).first()
        if found is None:
            raise _job_not_found(job_id)

    @staticmethod
    def _fetch_job(conn: sa.Connection, job_id: str) -> JobRecord:
        row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        if row is None:
            raise _job_not_found(job_id)
        return _job(row)

    # -- jobs -------------------------------------------------------------------------------
    @classmethod
    def _insert_job(cls, conn: sa.Connection, **fields: Any) -> JobRecord:
        job_id = fields["job_id"]
        exists = conn.execute(sa.select(jobs.c.job_id).where(jobs.c.job_id == job_id)).first()
        if exists is not None:
            raise Conflict(
                f"job {job_id!r} already exists", ErrorCode.CONFLICT, details={"job_id": job_id}
            )
        conn.execute(
            sa.insert(jobs).values(
                **fields,
                status=JobStatus.SUBMITTED.value,
                start_time=None,
                end_time=None,
                status_reason="",
                current_round=None,
                total_rounds=None,
                site_errors=[],
                sites=[],
                version=1,
            )
        )
        return cls._fetch_job(conn, job_id)

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
        """Insert a job in SUBMITTED with version 1; Conflict(CONFLICT) if the id exists."""
        fields = {
            "job_id": job_id,
            "name": name,
            "study": study,
            "submitter": submitter,
            "meta": meta,
            "job_sha256": job_sha256,
            "submit_time": submit_time,
            "submitter_org": submitter_org,
            "submitter_role": submitter_role,
        }
        return self._write_retrying(lambda conn: self._insert_job(conn, **fields))

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
        """Create the job and its token record in one transaction, or resolve the token.

        SQLite holds the write lock for the whole check-and-insert; on PostgreSQL a concurrent
        insert of the same scope loses on the primary key and its retry resolves the winner's.
        """

        def work(conn: sa.Connection) -> tuple[JobRecord, bool]:
            found = sql_tokens.find_token(conn, study, submitter, token)
            if found is not None:
                existing = resolve_token(found, content_sha256)
                return self._fetch_job(conn, existing), False
            record = self._insert_job(
                conn,
                job_id=job_id,
                name=name,
                study=study,
                submitter=submitter,
                meta=meta,
                job_sha256=job_sha256,
                submit_time=submit_time,
                submitter_org=submitter_org,
                submitter_role=submitter_role,
            )
            sql_tokens.insert_token(
                conn,
                study=study,
                submitter=submitter,
                token=token,
                content_sha256=content_sha256,
                job_id=job_id,
                now=submit_time,
            )
            return record, True

        return self._write_retrying(work)

    def get_submit_token(
        self, *, study: str, submitter: str, token: str
    ) -> SubmitTokenRecord | None:
        """Return the record of the token's scope, or None."""
        with self._tx(write=False) as conn:
            return sql_tokens.find_token(conn, study, submitter, token)

    # -- API tokens -------------------------------------------------------------------------
    def add_api_token(self, record: ApiTokenRecord) -> ApiTokenRecord:
        """Insert a token record; Conflict if the id exists."""
        with self._tx(write=True) as conn:
            return sql_api_tokens.insert(conn, record)

    def get_api_token(self, token_id: str) -> ApiTokenRecord | None:
        """The token record, or None."""
        with self._tx(write=False) as conn:
            return sql_api_tokens.find(conn, token_id)

    def list_api_tokens(self) -> list[ApiTokenRecord]:
        """Every token record, oldest first."""
        with self._tx(write=False) as conn:
            return sql_api_tokens.list_all(conn)

    def revoke_api_token(self, token_id: str, *, now: float) -> ApiTokenRecord:
        """Revoke once; NotFound if unknown."""
        with self._tx(write=True) as conn:
            return sql_api_tokens.revoke(conn, token_id, now)

    def get_job(self, job_id: str) -> JobRecord:
        """Return the job; NotFound(JOB_NOT_FOUND) for an unknown id."""
        with self._tx(write=False) as conn:
            return self._fetch_job(conn, job_id)

    def list_jobs(self, flt: JobFilter | None = None) -> list[JobRecord]:
        """Return the jobs matching every filter, oldest submit first (newest when reverse).

        Prefix filters compare exactly (case-sensitive, ``%`` and ``_`` are plain characters)
        on every database; an empty ``statuses`` list matches no job.
        """
        flt = flt or JobFilter()
        query = sa.select(jobs)
        if flt.study is not None:
            query = query.where(jobs.c.study == flt.study)
        for column, prefix in ((jobs.c.job_id, flt.id_prefix), (jobs.c.name, flt.name_prefix)):
            if prefix:
                # Not LIKE: SQLite's LIKE ignores case, PostgreSQL's does not.
                query = query.where(sa.func.substr(column, 1, len(prefix)) == prefix)
        if flt.statuses is not None:
            query = query.where(jobs.c.status.in_([JobStatus(s).value for s in flt.statuses]))
        if flt.reverse:
            query = query.order_by(jobs.c.submit_time.desc(), jobs.c.job_id.desc())
        else:
            query = query.order_by(jobs.c.submit_time.asc(), jobs.c.job_id.asc())
        if flt.limit is not None:
            if flt.limit < 0:
                raise InvalidRequest(f"limit must not be negative, got {flt.limit}")
            query = query.limit(flt.limit)
        with self._tx(write=False) as conn:
            return [_job(row) for row in conn.execute(query)]

    def set_job_status(
        self,
        job_id: str,
        new: JobStatus,
        *,
        reason: str | None = None,
        now: float,
    ) -> JobRecord | None:
        """Compare-and-set the status; None (nothing changed) when the transition is refused."""
        target = JobStatus(new)
        with self._tx(write=True) as conn:
            row = self._locked_job(conn, job_id)
            if not check_job_transition(row.status, target):
                return None
            values: dict[str, Any] = {"status": target.value, "version": row.version + 1}
            if target is JobStatus.RUNNING:
                values["start_time"] = now
            if target in JOB_TERMINAL:
                values["end_time"] = now
            if reason is not None:
                values["status_reason"] = reason
            # The WHERE repeats what was read: with the row locked it always matches, and should
            # a database ever not lock, a concurrent change makes this write lose instead of
            # overwrite.
            result = conn.execute(
                sa.update(jobs)
                .where(
                    jobs.c.job_id == job_id,
                    jobs.c.status == row.status,
                    jobs.c.version == row.version,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            changed = self._fetch_job(conn, job_id)
        fault_point("job_transition")  # committed: a restart must find it so
        return changed

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
        """Change the given progress fields and bump ``version``; never the status.

        A call that names no field only bumps ``version`` (a touch: something about the job
        changed elsewhere, e.g. a round's metrics, and waiters should look again).
        """
        with self._tx(write=True) as conn:
            row = self._locked_job(conn, job_id)
            values: dict[str, Any] = {}
            # A terminal status's reason says why the job ended; a late progress report
            # (e.g. "round 3 of 5" racing an abort) must not replace it.
            if status_reason is not None and JobStatus(row.status) not in JOB_TERMINAL:
                values["status_reason"] = status_reason
            if current_round is not None:
                values["current_round"] = current_round
            if total_rounds is not None:
                values["total_rounds"] = total_rounds
            if sites is not None:
                values["sites"] = list(sites)
            if add_site_error is not None:
                values["site_errors"] = [*row.site_errors, dict(add_site_error)]
            if merge_meta is not None:
                values["meta"] = {**row.meta, **merge_meta}
            values["version"] = jobs.c.version + 1
            conn.execute(sa.update(jobs).where(jobs.c.job_id == job_id).values(**values))
            return self._fetch_job(conn, job_id)

    def delete_job(self, job_id: str, *, now: float | None = None) -> int:
        """Remove the job with its rounds, tasks and updates; NotFound if unknown. Its
        submit-token records stay, marked ``job_deleted``; returns how many were marked."""
        when = time.time() if now is None else now
        with self._tx(write=True) as conn:
            self._locked_job(conn, job_id)
            # ON DELETE CASCADE would do this; deleting children explicitly keeps it true even
            # on a connection opened without SQLite's foreign_keys pragma.
            for table in (updates, tasks, rounds):
                conn.execute(sa.delete(table).where(table.c.job_id == job_id))
            conn.execute(sa.delete(jobs).where(jobs.c.job_id == job_id))
            return sql_tokens.mark_job_deleted(conn, job_id, when)

    # -- sites ------------------------------------------------------------------------------
    def touch_site(self, name: str, *, org: str, now: float) -> SiteRecord:
        """Record contact at ``now`` (creating the site on first contact).

        ``last_seen`` never goes backwards (a late, slow request must not hide a newer one);
        a non-empty ``org`` replaces the stored one.
        """

        def work(conn: sa.Connection) -> SiteRecord:
            row = conn.execute(
                sa.select(sites).where(sites.c.name == name).with_for_update()
            ).first()
            if row is None:
                conn.execute(
                    sa.insert(sites).values(
                        name=name, org=org, enabled=True, first_seen=now, last_seen=now
                    )
                )
            else:
                values: dict[str, Any] = {"last_seen": max(row.last_seen, now)}
                if org:
                    values["org"] = org
                conn.execute(sa.update(sites).where(sites.c.name == name).values(**values))
            return self._fetch_site(conn, name)

        return self._write_retrying(work)

    @staticmethod
    def _fetch_site(conn: sa.Connection, name: str) -> SiteRecord:
        row = conn.execute(sa.select(sites).where(sites.c.name == name)).first()
        if row is None:
            raise _site_not_found(name)
        return _site(row)

    def get_site(self, name: str) -> SiteRecord:
        """Return the site; NotFound(SITE_NOT_FOUND) for an unknown name."""
        with self._tx(write=False) as conn:
            return self._fetch_site(conn, name)

    def list_sites(self) -> list[SiteRecord]:
        """Return every known site, by name."""
        with self._tx(write=False) as conn:
            return [_site(row) for row in conn.execute(sa.select(sites).order_by(sites.c.name))]

    def set_site_enabled(self, name: str, enabled: bool) -> SiteRecord:
        """Enable or disable a site; NotFound(SITE_NOT_FOUND) for an unknown name."""
        with self._tx(write=True) as conn:
            result = conn.execute(
                sa.update(sites).where(sites.c.name == name).values(enabled=bool(enabled))
            )
            if result.rowcount != 1:
                raise _site_not_found(name)
            return self._fetch_site(conn, name)

    # -- rounds -----------------------------------------------------------------------------
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
        """Record a round's global model; a retry with the same checksum returns the stored
        record, another checksum raises Conflict(CONFLICT)."""

        def work(conn: sa.Connection) -> RoundRecord:
            self._locked_job(conn, job_id)
            row = conn.execute(
                sa.select(rounds).where(rounds.c.job_id == job_id, rounds.c.round == round)
            ).first()
            if row is not None:
                if row.model_sha256 == model_sha256:
                    return _round(row)
                raise Conflict(
                    f"round {round} of job {job_id!r} already has another model",
                    ErrorCode.CONFLICT,
                    details={"job_id": job_id, "round": round},
                )
            conn.execute(
                sa.insert(rounds).values(
                    job_id=job_id,
                    round=round,
                    model_path=model_path,
                    model_sha256=model_sha256,
                    num_updates=num_updates,
                    num_samples=num_samples,
                    metrics={},
                    created=now,
                )
            )
            return self._fetch_round(conn, job_id, round)

        return self._write_retrying(work)

    @staticmethod
    def _fetch_round(conn: sa.Connection, job_id: str, round: int) -> RoundRecord:
        row = conn.execute(
            sa.select(rounds).where(rounds.c.job_id == job_id, rounds.c.round == round)
        ).first()
        if row is None:
            raise NotFound(
                f"round {round} of job {job_id!r} not found",
                ErrorCode.NOT_FOUND,
                details={"job_id": job_id, "round": round},
            )
        return _round(row)

    def set_round_metrics(self, job_id: str, round: int, metrics: dict[str, float]) -> RoundRecord:
        """Merge ``metrics`` into the round's; NotFound(JOB_NOT_FOUND) for an unknown job,
        NotFound(NOT_FOUND) for an unknown round."""
        with self._tx(write=True) as conn:
            self._locked_job(conn, job_id)
            current = self._fetch_round(conn, job_id, round)
            merged = {**current.metrics, **{key: float(v) for key, v in metrics.items()}}
            conn.execute(
                sa.update(rounds)
                .where(rounds.c.job_id == job_id, rounds.c.round == round)
                .values(metrics=merged)
            )
            return self._fetch_round(conn, job_id, round)

    def list_rounds(self, job_id: str) -> list[RoundRecord]:
        """Return the job's model trail by round; NotFound(JOB_NOT_FOUND) for an unknown job."""
        with self._tx(write=False) as conn:
            self._require_job(conn, job_id)
            query = sa.select(rounds).where(rounds.c.job_id == job_id).order_by(rounds.c.round)
            return [_round(row) for row in conn.execute(query)]

    # -- tasks ------------------------------------------------------------------------------
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
        """Create one PENDING task per site in one transaction, in the order of ``sites``."""
        records = [
            TaskRecord(
                task_id=uuid.uuid4().hex,
                job_id=job_id,
                site=site,
                name=name,
                round=round,
                status=TaskStatus.PENDING,
                model_path=model_path,
                created=now,
                deadline=deadline,
                meta=dict(meta or {}),
            )
            for site in sites
        ]
        with self._tx(write=True) as conn:
            self._locked_job(conn, job_id)
            if records:
                # Enums go in as their plain string values: drivers differ on adapting them.
                conn.execute(
                    sa.insert(tasks),
                    [{**record.model_dump(), "status": record.status.value} for record in records],
                )
        return records

    def get_task(self, task_id: str) -> TaskRecord:
        """Return the task; NotFound(TASK_NOT_FOUND) for an unknown id."""
        with self._tx(write=False) as conn:
            return self._fetch_task(conn, task_id)

    @staticmethod
    def _fetch_task(conn: sa.Connection, task_id: str) -> TaskRecord:
        row = conn.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).first()
        if row is None:
            raise _task_not_found(task_id)
        return _task(row)

    @staticmethod
    def _task_order(query: sa.Select[Any]) -> sa.Select[Any]:
        # Tasks of one create_tasks call share ``created``: the rest only makes the order stable.
        return query.order_by(tasks.c.created, tasks.c.round, tasks.c.site, tasks.c.task_id)

    def open_tasks_for(self, job_id: str, site: str) -> list[TaskRecord]:
        """Return the site's PENDING or FETCHED tasks of the job, oldest first.

        NotFound(JOB_NOT_FOUND) for an unknown job; a site without tasks gets an empty list.
        """
        query = sa.select(tasks).where(
            tasks.c.job_id == job_id, tasks.c.site == site, tasks.c.status.in_(_OPEN_TASK)
        )
        with self._tx(write=False) as conn:
            self._require_job(conn, job_id)
            return [_task(row) for row in conn.execute(self._task_order(query))]

    def list_tasks(self, job_id: str, round: int | None = None) -> list[TaskRecord]:
        """Return the job's tasks (of one round when given), oldest first."""
        query = sa.select(tasks).where(tasks.c.job_id == job_id)
        if round is not None:
            query = query.where(tasks.c.round == round)
        with self._tx(write=False) as conn:
            self._require_job(conn, job_id)
            return [_task(row) for row in conn.execute(self._task_order(query))]

    def set_task_status(self, task_id: str, new: TaskStatus) -> TaskRecord | None:
        """Move the task if the transition is allowed, else return None and change nothing."""
        target = TaskStatus(new)
        with self._tx(write=True) as conn:
            row = conn.execute(
                sa.select(tasks).where(tasks.c.task_id == task_id).with_for_update()
            ).first()
            if row is None:
                raise _task_not_found(task_id)
            if not check_task_transition(row.status, target):
                return None
            result = conn.execute(
                sa.update(tasks)
                .where(tasks.c.task_id == task_id, tasks.c.status == row.status)
                .values(status=target.value)
            )
            if result.rowcount != 1:
                return None
            return self._fetch_task(conn, task_id)

    def cancel_open_tasks(self, job_id: str) -> int:
        """Move every PENDING or FETCHED task of the job to CANCELLED; return how many."""
        with self._tx(write=True) as conn:
            self._locked_job(conn, job_id)
            result = conn.execute(
                sa.update(tasks)
                .where(tasks.c.job_id == job_id, tasks.c.status.in_(_OPEN_TASK))
                .values(status=TaskStatus.CANCELLED.value)
            )
            return int(result.rowcount)

    # -- updates ----------------------------------------------------------------------------
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
        """Store a result for an open task and mark the task DONE, in one transaction.

        The same upload again returns ``(stored, False)``; another checksum for a DONE task, or
        any result for a task that is not open, raises Conflict(TASK_NOT_ACTIVE).
        NotFound(TASK_NOT_FOUND) for an unknown task.
        """
        with self._tx(write=True) as conn:
            job_id = conn.execute(
                sa.select(tasks.c.job_id).where(tasks.c.task_id == task_id)
            ).scalar_one_or_none()
            if job_id is not None:
                # Lock order job -> task, as in cancel_open_tasks and delete_job: the update's
                # foreign key would otherwise share-lock the job row after the task row and
                # deadlock with them on PostgreSQL.
                conn.execute(
                    sa.select(jobs.c.job_id)
                    .where(jobs.c.job_id == job_id)
                    .with_for_update(read=True, key_share=True)
                )
            task = conn.execute(
                sa.select(tasks).where(tasks.c.task_id == task_id).with_for_update()
            ).first()
            if task is None:
                raise _task_not_found(task_id)
            stored = conn.execute(sa.select(updates).where(updates.c.task_id == task_id)).first()
            if stored is not None:
                if stored.sha256 == sha256:
                    return _update(stored), False
                raise Conflict(
                    f"task {task_id!r} already has another result",
                    ErrorCode.TASK_NOT_ACTIVE,
                    details={"task_id": task_id, "status": task.status},
                )
            if task.status not in _OPEN_TASK:
                raise Conflict(
                    f"task {task_id!r} is {task.status}, not open for a result",
                    ErrorCode.TASK_NOT_ACTIVE,
                    details={"task_id": task_id, "status": task.status},
                )
            record = UpdateRecord(
                task_id=task_id,
                job_id=task.job_id,
                site=task.site,
                round=task.round,
                path=path,
                sha256=sha256,
                num_samples=num_samples,
                metrics={key: float(v) for key, v in metrics.items()},
                received=now,
            )
            conn.execute(sa.insert(updates).values(**record.model_dump()))
            conn.execute(
                sa.update(tasks)
                .where(tasks.c.task_id == task_id)
                .values(status=TaskStatus.DONE.value)
            )
            return record, True

    def list_updates(self, job_id: str, round: int | None = None) -> list[UpdateRecord]:
        """Return the job's updates (of one round when given), in arrival order."""
        query = sa.select(updates).where(updates.c.job_id == job_id)
        if round is not None:
            query = query.where(updates.c.round == round)
        query = query.order_by(updates.c.received, updates.c.task_id)
        with self._tx(write=False) as conn:
            self._require_job(conn, job_id)
            return [_update(row) for row in conn.execute(query)]

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Dispose of the engine's connections; later calls raise RuntimeError."""
        self._closed = True
        self._engine.dispose()
