"""Studies and the audit log: store records and admin API bodies.

A study is a named group of enrolled sites and admin users. Jobs submitted to a study are
dispatched only to its sites; the ``default`` study is every site and every user.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cohort.errors import ErrorCode, InvalidRequest

__all__ = [
    "AuditRecord",
    "StudyRecord",
    "StudySite",
    "StudySitesReply",
    "StudySitesRequest",
    "StudyUserRequest",
]


class StudySite(BaseModel):
    """A site enrolled in a study, with the org it was enrolled for."""

    model_config = ConfigDict(frozen=True)

    site: str
    org: str


class StudyRecord(BaseModel):
    """One study: its enrolled sites and users."""

    model_config = ConfigDict(frozen=True)

    name: str
    created_by: str
    created: float
    sites: list[StudySite] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)

    @property
    def site_names(self) -> set[str]:
        """The names of the enrolled sites."""
        return {s.site for s in self.sites}


class StudySitesRequest(BaseModel):
    """Sites to enroll or remove: exactly one of ``sites`` (org_admin callers, own org) or
    ``site_orgs`` (``"org:s1,s2"`` groups, project_admin callers)."""

    model_config = ConfigDict(extra="forbid")

    sites: list[str] | None = Field(default=None, max_length=10_000)
    site_orgs: list[str] | None = Field(default=None, max_length=1_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> StudySitesRequest:
        if (self.sites is None) == (self.site_orgs is None):
            # Raised as our own error so the envelope carries INVALID_ARGS, not a 422.
            raise InvalidRequest(
                "pass exactly one of sites or site_orgs",
                code=ErrorCode.INVALID_ARGS,
                hint="org_admin callers pass sites (their own org's); project_admin callers "
                "pass site_orgs groups such as 'hospital-a:site-a1,site-a2'.",
            )
        return self


class StudySitesReply(BaseModel):
    """The study after an enrollment change, with what changed and what was already so."""

    study: StudyRecord
    added: list[str] = Field(default_factory=list)
    already_enrolled: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    not_enrolled: list[str] = Field(default_factory=list)


class StudyUserRequest(BaseModel):
    """A user to add to or remove from a study."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=128)


class AuditRecord(BaseModel):
    """One entry of the audit log: who did what, when, with what outcome."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    time: float
    user: str
    org: str
    role: str
    action: str
    target: str = Field(default="", description="What the action was on: a job id, a study.")
    outcome: str = Field(description='"ok", "refused", or "failed: <ERROR_CODE>".')
    detail: str = Field(default="", description="The refusing rule, or the error message.")
