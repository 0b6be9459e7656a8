"""Studies and the audit log in SQL: the :class:`StudyRegistry` and :class:`AuditLog` halves
of :class:`cohort.store.sql.SQLStore`, written against its transaction helper."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

import sqlalchemy as sa

from cohort.errors import ErrorCode, NotFound
from cohort.schemas.studies import AuditRecord, StudyRecord, StudySite
from cohort.store.sql_tables import audit_log, studies, study_sites, study_users
from cohort.store.studies import AuditLog, StudyRegistry

__all__ = ["SQLStudiesMixin", "study_not_found"]

_T = TypeVar("_T")


def study_not_found(name: str) -> NotFound:
    """STUDY_NOT_FOUND naming the study."""
    return NotFound(
        f"study {name!r} not found",
        ErrorCode.STUDY_NOT_FOUND,
        hint="`cohort study list` shows the studies; `cohort study register` creates one.",
        details={"study": name},
    )


def _fetch(conn: sa.Connection, name: str) -> StudyRecord:
    row = conn.execute(sa.select(studies).where(studies.c.name == name)).first()
    if row is None:
        raise study_not_found(name)
    sites = conn.execute(
        sa.select(study_sites.c.site, study_sites.c.org)
        .where(study_sites.c.study == name)
        .order_by(study_sites.c.site)
    )
    users = conn.execute(
        sa.select(study_users.c.user)
        .where(study_users.c.study == name)
        .order_by(study_users.c.user)
    )
    return StudyRecord(
        name=row.name,
        created_by=row.created_by,
        created=row.created,
        sites=[StudySite(site=s.site, org=s.org) for s in sites],
        users=[u.user for u in users],
    )


def _lock(conn: sa.Connection, name: str) -> None:
    found = conn.execute(
        sa.select(studies.c.name).where(studies.c.name == name).with_for_update()
    ).first()
    if found is None:
        raise study_not_found(name)


class SQLStudiesMixin(StudyRegistry, AuditLog):
    """Study and audit statements; the store supplies ``_tx`` and ``_write_retrying``."""

    def _tx(self, *, write: bool) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError  # provided by SQLStore

    def _write_retrying(self, work: Callable[[sa.Connection], _T]) -> _T:
        raise NotImplementedError  # provided by SQLStore

    def create_study(self, name: str, *, created_by: str, now: float) -> tuple[StudyRecord, bool]:
        """Create the study unless it exists (see :class:`StudyRegistry`)."""

        def work(conn: sa.Connection) -> tuple[StudyRecord, bool]:
            exists = conn.execute(sa.select(studies.c.name).where(studies.c.name == name)).first()
            if exists is not None:
                return _fetch(conn, name), False
            conn.execute(sa.insert(studies).values(name=name, created_by=created_by, created=now))
            conn.execute(sa.insert(study_users).values(study=name, user=created_by))
            return _fetch(conn, name), True

        return self._write_retrying(work)

    def get_study(self, name: str) -> StudyRecord:
        """Return the study (see :class:`StudyRegistry`)."""
        with self._tx(write=False) as conn:
            return _fetch(conn, name)

    def list_studies(self) -> list[StudyRecord]:
        """Return every study, by name."""
        with self._tx(write=False) as conn:
            names = conn.execute(sa.select(studies.c.name).order_by(studies.c.name)).scalars()
            return [_fetch(conn, n) for n in list(names)]

    def delete_study(self, name: str) -> StudyRecord:
        """Delete the study and its enrollments."""
        with self._tx(write=True) as conn:
            _lock(conn, name)
            record = _fetch(conn, name)
            # Children first: true even on a connection without SQLite's foreign_keys pragma.
            for table in (study_sites, study_users):
                conn.execute(sa.delete(table).where(table.c.study == name))
            conn.execute(sa.delete(studies).where(studies.c.name == name))
            return record

    def add_study_sites(
        self, name: str, sites: list[StudySite]
    ) -> tuple[StudyRecord, list[str], list[str]]:
        """Enroll sites (see :class:`StudyRegistry`)."""

        def work(conn: sa.Connection) -> tuple[StudyRecord, list[str], list[str]]:
            _lock(conn, name)
            enrolled = _fetch(conn, name).site_names
            added = [s for s in sites if s.site not in enrolled]
            for site in added:
                conn.execute(
                    sa.insert(study_sites).values(study=name, site=site.site, org=site.org)
                )
            already = sorted({s.site for s in sites} & enrolled)
            return _fetch(conn, name), sorted({s.site for s in added}), already

        return self._write_retrying(work)

    def remove_study_sites(
        self, name: str, sites: list[str]
    ) -> tuple[StudyRecord, list[str], list[str]]:
        """Remove sites (see :class:`StudyRegistry`)."""
        with self._tx(write=True) as conn:
            _lock(conn, name)
            enrolled = _fetch(conn, name).site_names
            removed = sorted(set(sites) & enrolled)
            conn.execute(
                sa.delete(study_sites).where(
                    study_sites.c.study == name, study_sites.c.site.in_(removed)
                )
            )
            return _fetch(conn, name), removed, sorted(set(sites) - enrolled)

    def set_study_user(self, name: str, user: str, *, enrolled: bool) -> StudyRecord:
        """Add or remove a study user (see :class:`StudyRegistry`)."""

        def work(conn: sa.Connection) -> StudyRecord:
            _lock(conn, name)
            where = (study_users.c.study == name, study_users.c.user == user)
            present = conn.execute(sa.select(study_users.c.user).where(*where)).first()
            if enrolled and present is None:
                conn.execute(sa.insert(study_users).values(study=name, user=user))
            elif not enrolled and present is not None:
                conn.execute(sa.delete(study_users).where(*where))
            return _fetch(conn, name)

        return self._write_retrying(work)

    def add_audit(self, entry: AuditRecord) -> None:
        """Append one audit entry."""
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(audit_log).values(**entry.model_dump(exclude={"id"})))

    def list_audit(self, *, limit: int = 100, user: str | None = None) -> list[AuditRecord]:
        """The newest entries first."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if user is not None:
            query = query.where(audit_log.c.user == user)
        with self._tx(write=False) as conn:
            return [AuditRecord.model_validate(dict(r._mapping)) for r in conn.execute(query)]
