"""Studies: register, enroll and remove sites and users, under the policy's org scope.

Callers name sites in one of two forms (never both, INVALID_ARGS otherwise):

* ``sites``: a flat list, for org_admin callers; every site must be of the caller's org;
* ``site_orgs``: ``"org:s1,s2"`` groups, for project_admin callers enrolling across orgs.

A site the server has already seen must be of the org it is enrolled for; one it has not seen
yet is enrolled for the org named, and the scheduler dispatches a study's job only to a site
whose certificate org matches its enrollment.
"""

from __future__ import annotations

from cohort.errors import ErrorCode, InvalidRequest, NotFound
from cohort.schemas.admin import DEFAULT_STUDY
from cohort.schemas.studies import StudyRecord, StudySite, StudySitesReply, StudySitesRequest
from cohort.server.policy import Action, authorize
from cohort.server.services.jobs import check_study
from cohort.server.state import ServerState
from cohort.tls import Identity

__all__ = ["StudyService", "parse_site_orgs"]


def _invalid(message: str, hint: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.INVALID_ARGS, hint=hint)


def parse_site_orgs(groups: list[str]) -> list[StudySite]:
    """``["org:s1,s2", ...]`` as sites with their org; INVALID_ARGS for a malformed group."""
    found: list[StudySite] = []
    for group in groups:
        org, sep, names = group.partition(":")
        sites = [s.strip() for s in names.split(",") if s.strip()]
        if not sep or not org.strip() or not sites:
            raise _invalid(
                f"malformed site_orgs group {group!r}",
                "Write each group as 'org:site1,site2', e.g. 'hospital-a:site-a1,site-a2'.",
            )
        found += [StudySite(site=s, org=org.strip()) for s in sites]
    return found


class StudyService:
    """The logic behind ``/admin/v1/studies``."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def _named(self, study: str) -> None:
        check_study(study)
        if study == DEFAULT_STUDY:
            raise InvalidRequest(
                "the default study is every site and every user; it cannot be changed",
                code=ErrorCode.INVALID_STUDY_NAME,
                hint="Register a study under another name.",
                details={"study": study},
            )

    def _sites(self, who: Identity, req: StudySitesRequest) -> list[StudySite]:
        """The sites a request names, with their orgs, checked against the caller's scope."""
        if req.site_orgs is not None:
            if who.role != "project_admin":
                raise _invalid(
                    "site_orgs is for project_admin callers",
                    f"As {who.role}, pass sites: your own org's ({who.org}) site names.",
                )
            wanted = parse_site_orgs(req.site_orgs)
        else:
            if who.role == "project_admin":
                raise _invalid(
                    "a project_admin names sites with their orgs",
                    "Pass site_orgs groups such as 'hospital-a:site-a1,site-a2'.",
                )
            wanted = [StudySite(site=s, org=who.org) for s in req.sites or []]
        known = {s.name: s.org for s in self.state.store.list_sites()}
        checked: list[StudySite] = []
        for site in wanted:
            actual = known.get(site.site) or site.org
            if req.site_orgs is not None and actual != site.org:
                raise _invalid(
                    f"site {site.site} belongs to org {actual}, not {site.org}",
                    f"Name it in the group '{actual}:{site.site}'.",
                )
            checked.append(StudySite(site=site.site, org=actual))
        # A site of another org in an org_admin's flat list is refused by the org scope here.
        authorize(who, Action.MANAGE_STUDY, orgs={s.org for s in checked})
        return checked

    def register(self, who: Identity, study: str, req: StudySitesRequest) -> StudySitesReply:
        """Create the study (or merge into it) and enroll the named sites."""
        self._named(study)
        sites = self._sites(who, req)
        self.state.store.create_study(study, created_by=who.name, now=self.state.clock())
        record, added, already = self.state.store.add_study_sites(study, sites)
        return StudySitesReply(study=record, added=added, already_enrolled=already)

    def add_sites(self, who: Identity, study: str, req: StudySitesRequest) -> StudySitesReply:
        """Enroll sites in an existing study."""
        self._named(study)
        self.state.store.get_study(study)  # STUDY_NOT_FOUND before anything else
        record, added, already = self.state.store.add_study_sites(study, self._sites(who, req))
        return StudySitesReply(study=record, added=added, already_enrolled=already)

    def remove_sites(self, who: Identity, study: str, req: StudySitesRequest) -> StudySitesReply:
        """Remove sites from a study."""
        self._named(study)
        self.state.store.get_study(study)
        names = [s.site for s in self._sites(who, req)]
        record, removed, absent = self.state.store.remove_study_sites(study, names)
        return StudySitesReply(study=record, removed=removed, not_enrolled=absent)

    def remove(self, who: Identity, study: str) -> StudyRecord:
        """Remove a study; an org_admin only one whose sites are all of its org."""
        self._named(study)
        record = self.state.store.get_study(study)
        authorize(who, Action.MANAGE_STUDY, orgs={s.org for s in record.sites})
        return self.state.store.delete_study(study)

    def set_user(self, who: Identity, study: str, user: str, *, enrolled: bool) -> StudyRecord:
        """Add or remove a study user. The server keeps no registry of users' orgs, so an
        org_admin's "own org" scope is the study's: it may manage the users of a study whose
        enrolled sites are all of its org."""
        self._named(study)
        record = self.state.store.get_study(study)
        authorize(who, Action.MANAGE_USERS, orgs={s.org for s in record.sites})
        return self.state.store.set_study_user(study, user, enrolled=enrolled)

    def show(self, study: str) -> StudyRecord:
        """One study; the default study is reported with no enrollment (it is everyone)."""
        check_study(study)
        if study == DEFAULT_STUDY:
            raise NotFound(
                "the default study is not in the registry: it is every site and every user",
                ErrorCode.STUDY_NOT_FOUND,
                hint="`cohort study list` shows the registered studies.",
                details={"study": study},
            )
        return self.state.store.get_study(study)
