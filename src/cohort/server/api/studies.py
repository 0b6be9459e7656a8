"""Admin API (``/admin/v1/studies``, ``/admin/v1/audit``): the study registry and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cohort.schemas.studies import (
    AuditRecord,
    StudyRecord,
    StudySitesReply,
    StudySitesRequest,
    StudyUserRequest,
)
from cohort.server.api.deps import Services, services
from cohort.server.api.guard import AuditViewer, StudyManager, StudyUserManager, Viewer

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["studies"])
Svc = Annotated[Services, Depends(services)]


@router.get("/studies", response_model=list[StudyRecord])
async def list_studies(_: Viewer, svc: Svc) -> list[StudyRecord]:
    """Every registered study with its sites and users."""
    return svc.state.store.list_studies()


@router.get("/studies/{study}", response_model=StudyRecord)
async def show_study(study: str, _: Viewer, svc: Svc) -> StudyRecord:
    """One study."""
    return svc.studies.show(study)


@router.post("/studies/{study}", response_model=StudySitesReply)
async def register_study(
    study: str, req: StudySitesRequest, who: StudyManager, svc: Svc
) -> StudySitesReply:
    """Create a study, or merge sites into an existing one."""
    return svc.studies.register(who, study, req)


@router.delete("/studies/{study}", response_model=StudyRecord)
async def remove_study(study: str, who: StudyManager, svc: Svc) -> StudyRecord:
    """Remove a study and its enrollments (its jobs stay)."""
    return svc.studies.remove(who, study)


@router.post("/studies/{study}/sites", response_model=StudySitesReply)
async def add_study_site(
    study: str, req: StudySitesRequest, who: StudyManager, svc: Svc
) -> StudySitesReply:
    """Enroll sites in an existing study."""
    return svc.studies.add_sites(who, study, req)


@router.post("/studies/{study}/sites/remove", response_model=StudySitesReply)
async def remove_study_site(
    study: str, req: StudySitesRequest, who: StudyManager, svc: Svc
) -> StudySitesReply:
    """Remove sites from a study."""
    return svc.studies.remove_sites(who, study, req)


@router.post("/studies/{study}/users", response_model=StudyRecord)
async def add_study_user(
    study: str, req: StudyUserRequest, who: StudyUserManager, svc: Svc
) -> StudyRecord:
    """Add a user to the study."""
    return svc.studies.set_user(who, study, req.user, enrolled=True)


@router.delete("/studies/{study}/users/{user}", response_model=StudyRecord)
async def remove_study_user(study: str, user: str, who: StudyUserManager, svc: Svc) -> StudyRecord:
    """Remove a user from the study."""
    return svc.studies.set_user(who, study, user, enrolled=False)


@router.get("/audit", response_model=list[AuditRecord])
async def audit_log(
    _: AuditViewer,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    user: Annotated[str | None, Query(max_length=128)] = None,
) -> list[AuditRecord]:
    """The newest audit entries first: who did what, when, with what outcome."""
    return svc.state.store.list_audit(limit=limit, user=user)
