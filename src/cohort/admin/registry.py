"""Registry calls of the admin client: studies, site enable/disable and the audit log (mixed
into :class:`cohort.admin.api.AdminAPI`).

Sites are named in one of two forms, exactly one per call (INVALID_ARGS otherwise):
``sites`` (a flat list, for org_admin callers: their own org's sites) or ``site_orgs``
(``"org:s1,s2"`` groups, for project_admin callers).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from cohort.errors import ErrorCode, InvalidRequest
from cohort.schemas.records import SiteRecord
from cohort.schemas.studies import AuditRecord, StudyRecord, StudySitesReply

__all__ = ["RegistryCalls", "sites_body"]


def sites_body(sites: list[str] | None, site_orgs: list[str] | None) -> dict[str, list[str]]:
    """The request body naming sites; INVALID_ARGS unless exactly one form is given."""
    if (sites is None) == (site_orgs is None):
        raise InvalidRequest(
            "pass exactly one of sites or site_orgs",
            code=ErrorCode.INVALID_ARGS,
            hint="org_admin callers pass sites; project_admin callers pass site_orgs groups "
            "such as 'hospital-a:site-a1,site-a2'.",
        )
    return {"sites": sites} if sites is not None else {"site_orgs": site_orgs or []}


class RegistryCalls:
    """``/admin/v1/studies``, ``/admin/v1/sites`` and ``/admin/v1/audit``; the host class
    supplies ``_request``."""

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # AdminAPI._request

    @staticmethod
    def _url(study: str, tail: str = "") -> str:
        return f"/admin/v1/studies/{quote(study, safe='')}{tail}"

    def register_study(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Create or merge a study and enroll sites; the study payload with added and
        already_enrolled lists."""
        body = sites_body(sites, site_orgs)
        reply = self._request("POST", self._url(study), json=body)
        return StudySitesReply.model_validate(reply.json()).model_dump()

    def add_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Enroll sites in an existing study (added / already_enrolled)."""
        body = sites_body(sites, site_orgs)
        reply = self._request("POST", self._url(study, "/sites"), json=body)
        return StudySitesReply.model_validate(reply.json()).model_dump()

    def remove_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Remove sites from a study (removed / not_enrolled)."""
        body = sites_body(sites, site_orgs)
        reply = self._request("POST", self._url(study, "/sites/remove"), json=body)
        return StudySitesReply.model_validate(reply.json()).model_dump()

    def add_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Add a user to the study's users; the study payload."""
        reply = self._request("POST", self._url(study, "/users"), json={"user": user})
        return StudyRecord.model_validate(reply.json()).model_dump()

    def remove_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Remove a user from the study's users; the study payload."""
        reply = self._request("DELETE", self._url(study, f"/users/{quote(user, safe='')}"))
        return StudyRecord.model_validate(reply.json()).model_dump()

    def list_studies(self) -> list[dict[str, Any]]:
        """Every registered study."""
        reply = self._request("GET", "/admin/v1/studies")
        return [StudyRecord.model_validate(s).model_dump() for s in reply.json()]

    def show_study(self, study: str) -> dict[str, Any]:
        """One study's payload (STUDY_NOT_FOUND if unknown)."""
        return StudyRecord.model_validate(
            self._request("GET", self._url(study)).json()
        ).model_dump()

    def remove_study(self, study: str) -> dict[str, Any]:
        """Remove a study and its registry entries; the study payload as it was."""
        reply = self._request("DELETE", self._url(study))
        return StudyRecord.model_validate(reply.json()).model_dump()

    def audit_log(self, limit: int = 100, user: str | None = None) -> list[AuditRecord]:
        """The newest audit entries first."""
        params: dict[str, Any] = {"limit": limit}
        if user is not None:
            params["user"] = user
        reply = self._request("GET", "/admin/v1/audit", params=params)
        return [AuditRecord.model_validate(e) for e in reply.json()]

    def set_site_enabled(self, site: str, enabled: bool) -> SiteRecord:
        """Enable or disable a site; a disabled site's certificate is refused on every fleet
        call until it is enabled again."""
        verb = "enable" if enabled else "disable"
        reply = self._request("POST", f"/admin/v1/sites/{quote(site, safe='')}/{verb}")
        return SiteRecord.model_validate(reply.json())
