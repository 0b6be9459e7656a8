"""FastAPI dependencies that enforce :mod:`cohort.server.policy` on admin routes and write the
audit log.

Each admin route depends on exactly one of these, which names the action it performs:
:data:`Viewer`, :data:`Submitter`, :data:`JobManager`, :data:`SiteOperator`, :data:`StudyManager`,
:data:`StudyUserManager`, :data:`AuditViewer`. Every refusal is audited, and so is the outcome
(``ok`` or ``failed: <CODE>``) of every action other than viewing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from cohort.errors import CohortError, NotAuthorized, NotFound
from cohort.schemas.admin import DEFAULT_STUDY
from cohort.schemas.studies import AuditRecord, StudyRecord
from cohort.server.api.auth import admin_identity
from cohort.server.api.deps import Services, services
from cohort.server.policy import Action, authorize, authorize_study
from cohort.tls import Identity, peer_identity

__all__ = [
    "POLICY_ACTION",
    "AuditViewer",
    "JobManager",
    "SiteOperator",
    "StudyManager",
    "StudyUserManager",
    "Submitter",
    "Viewer",
    "audit",
    "require",
]

#: Attribute naming the action on every policy dependency (tests check every route has one).
POLICY_ACTION = "cohort_policy_action"

Svc = Annotated[Services, Depends(services)]
_Study = Annotated[str, Query(max_length=64)]


def audit(svc: Services, who: Identity, action: Action | str, target: str, outcome: str,
          detail: str = "") -> None:  # fmt: skip
    """Append one entry to the audit log."""
    svc.state.store.add_audit(
        AuditRecord(
            time=svc.state.clock(),
            user=who.name,
            org=who.org,
            role=who.role,
            action=str(action),
            target=target,
            outcome=outcome,
            detail=detail[:2000],
        )
    )


def _target(request: Request) -> str:
    params = request.path_params
    named = params.get("job_id") or params.get("study") or params.get("site")
    return str(named or request.query_params.get("study", ""))


def _caller(request: Request, svc: Services, action: Action) -> Identity:
    """The admin calling, with refusals of non-admin certificates audited."""
    try:
        return admin_identity(request)
    except NotAuthorized as exc:
        who = peer_identity(request)
        if who is not None:
            audit(svc, who, action, _target(request), "refused", exc.message)
        raise


async def _run(
    request: Request, svc: Services, who: Identity, action: Action, **target: Any
) -> AsyncIterator[Identity]:
    name = _target(request)
    try:
        authorize(who, action, **target)
    except NotAuthorized as exc:
        audit(svc, who, action, name, "refused", exc.message)
        raise
    if action == Action.VIEW:  # reads are not audited: long polls would flood the log
        yield who
        return
    try:
        yield who
    except CohortError as exc:
        audit(svc, who, action, name, f"failed: {exc.code}", exc.message)
        raise
    except Exception as exc:
        audit(svc, who, action, name, "failed: INTERNAL_ERROR", repr(exc))
        raise
    audit(svc, who, action, name, "ok")


def require(action: Action) -> Callable[..., AsyncIterator[Identity]]:
    """A dependency allowing the caller to do ``action`` in any scope the policy grants."""

    async def dependency(request: Request, svc: Svc) -> AsyncIterator[Identity]:
        who = _caller(request, svc, action)
        async for value in _run(request, svc, who, action):
            yield value

    setattr(dependency, POLICY_ACTION, action)
    return dependency


def _registered(svc: Services, study: str) -> StudyRecord | None:
    if study == DEFAULT_STUDY:
        return None
    try:
        return svc.state.store.get_study(study)
    except NotFound:
        return None


def _require_submit() -> Callable[..., AsyncIterator[Identity]]:
    """Submit (and clone): into a registered study, only as one of its users."""

    async def dependency(
        request: Request, svc: Svc, study: _Study = DEFAULT_STUDY
    ) -> AsyncIterator[Identity]:
        who = _caller(request, svc, Action.SUBMIT)
        # A study in the registry admits its users only; any other name is a plain job
        # namespace, open like "default" (see docs/authorization.md).
        record = _registered(svc, study)
        if record is not None:
            try:
                authorize_study(who, study, record.users)
            except NotAuthorized as exc:
                audit(svc, who, Action.SUBMIT, study, "refused", exc.message)
                raise
        async for value in _run(request, svc, who, Action.SUBMIT):
            yield value

    setattr(dependency, POLICY_ACTION, Action.SUBMIT)
    return dependency


def _require_job_manage() -> Callable[..., AsyncIterator[Identity]]:
    """Abort, delete, log config: ``own`` scopes compare the job's submitter."""

    async def dependency(
        request: Request, job_id: str, svc: Svc, study: _Study = DEFAULT_STUDY
    ) -> AsyncIterator[Identity]:
        who = _caller(request, svc, Action.MANAGE_JOB)
        owner = svc.jobs.get(job_id, study).submitter  # JOB_NOT_FOUND as the route would
        async for value in _run(request, svc, who, Action.MANAGE_JOB, owner=owner):
            yield value

    setattr(dependency, POLICY_ACTION, Action.MANAGE_JOB)
    return dependency


# scope="function": the audit entry is written before the response goes out, so a client
# that reads the audit log right after its call sees the entry.
Viewer = Annotated[Identity, Depends(require(Action.VIEW), scope="function")]
Submitter = Annotated[Identity, Depends(_require_submit(), scope="function")]
JobManager = Annotated[Identity, Depends(_require_job_manage(), scope="function")]
SiteOperator = Annotated[Identity, Depends(require(Action.OPERATE_SITE), scope="function")]
StudyManager = Annotated[Identity, Depends(require(Action.MANAGE_STUDY), scope="function")]
StudyUserManager = Annotated[Identity, Depends(require(Action.MANAGE_USERS), scope="function")]
AuditViewer = Annotated[Identity, Depends(require(Action.VIEW_AUDIT), scope="function")]
SystemOperator = Annotated[Identity, Depends(require(Action.SYSTEM), scope="function")]
TokenManager = Annotated[Identity, Depends(require(Action.MANAGE_TOKENS), scope="function")]
