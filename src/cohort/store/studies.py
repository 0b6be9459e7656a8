"""The part of the state store contract that keeps studies and the audit log."""

from __future__ import annotations

import abc

from cohort.schemas.studies import AuditRecord, StudyRecord, StudySite

__all__ = ["AuditLog", "StudyRegistry"]


class StudyRegistry(abc.ABC):
    """Studies: named groups of enrolled sites and admin users.

    Unknown studies MUST raise NotFound(STUDY_NOT_FOUND).
    """

    @abc.abstractmethod
    def create_study(self, name: str, *, created_by: str, now: float) -> tuple[StudyRecord, bool]:
        """Create the study (with ``created_by`` as its first user) unless it exists; return
        it and whether it was created."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Return the study with its sites (by site name) and users (by name)."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """Return every study, by name."""

    @abc.abstractmethod
    def delete_study(self, name: str) -> StudyRecord:
        """Delete the study and its enrollments; return it as it was."""

    @abc.abstractmethod
    def add_study_sites(
        self, name: str, sites: list[StudySite]
    ) -> tuple[StudyRecord, list[str], list[str]]:
        """Enroll sites; return the study, the sites added and those already enrolled."""

    @abc.abstractmethod
    def remove_study_sites(
        self, name: str, sites: list[str]
    ) -> tuple[StudyRecord, list[str], list[str]]:
        """Remove sites; return the study, the sites removed and those not enrolled."""

    @abc.abstractmethod
    def set_study_user(self, name: str, user: str, *, enrolled: bool) -> StudyRecord:
        """Add (``enrolled``) or remove a user; either is a no-op when already so."""


class AuditLog(abc.ABC):
    """The append-only record of who did what, when, with what outcome."""

    @abc.abstractmethod
    def add_audit(self, entry: AuditRecord) -> None:
        """Append one entry (its ``id`` is assigned by the store)."""

    @abc.abstractmethod
    def list_audit(self, *, limit: int = 100, user: str | None = None) -> list[AuditRecord]:
        """The newest ``limit`` entries (of ``user`` only, if given), newest first."""
