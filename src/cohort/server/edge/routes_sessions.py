"""Edge routes for sessions (a session is a job from the built-in recipe), rounds and
validations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cohort.errors import NotFound
from cohort.schemas.edge import (
    Listing,
    NewSession,
    RoundView,
    SessionCreated,
    SessionStart,
    SessionView,
    StartValidation,
    Validation,
)
from cohort.server.edge.deps import Edge, Page, Reader, Writer, both, listing
from cohort.server.rest.deps import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Text = Annotated[str | None, Query(max_length=200)]


@both(router.get, "/sessions", response_model=Listing[SessionView], tags=["sessions"])
async def sessions(_: Reader, edge: Edge, page: Page, name: Text = None) -> Listing[SessionView]:
    """Every session (every job is one), oldest first; ``name`` keeps one name."""
    found = [s for s in edge.sessions.all() if name in (None, s.name)]
    return listing(found, page)


@both(router.post, "/sessions", response_model=SessionCreated, status_code=201, tags=["sessions"])
async def create_session(req: NewSession, _: Writer, edge: Edge) -> SessionCreated:
    """Create a session (its config is checked now); run it with ``POST sessions/start``."""
    return edge.sessions.create(req)


@router.post("/sessions/start", response_model=SessionView, tags=["sessions"])
async def start_session(req: SessionStart, who: Writer, edge: Edge) -> SessionView:
    """Run a created session, or continue a finished one for ``rounds`` more rounds."""
    return edge.sessions.start(who.identity, req)


@router.get("/sessions/count", response_model=int, tags=["sessions"])
async def sessions_count(_: Reader, edge: Edge) -> int:
    """How many sessions."""
    return len(edge.sessions.all())


@router.get("/sessions/{session_id}", response_model=SessionView, tags=["sessions"])
async def session(session_id: str, _: Reader, edge: Edge) -> SessionView:
    """One session and its status (Created, Started, Finished, Failed)."""
    return edge.sessions.get(session_id)


@both(router.get, "/rounds", response_model=Listing[RoundView], tags=["rounds"])
async def rounds(_: Reader, edge: Edge, page: Page, session_id: Text = None) -> Listing[RoundView]:
    """Every round of every run, oldest first."""
    jobs = None if session_id is None else edge.sessions.job_ids(session_id)
    return listing(edge.results.rounds(jobs), page)


@router.get("/rounds/count", response_model=int, tags=["rounds"])
async def rounds_count(_: Reader, edge: Edge) -> int:
    """How many rounds."""
    return len(edge.results.rounds())


@router.get("/rounds/{round_id}", response_model=RoundView, tags=["rounds"])
async def round_(round_id: str, _: Reader, edge: Edge) -> RoundView:
    """One round (``<job id>:<round>``)."""
    return edge.results.round(round_id)


def _validations(
    edge: Edge, session_id: str | None, model_id: str | None, correlation_id: str | None,
    name: str | None, role: str | None, client_id: str | None,
) -> list[Validation]:  # fmt: skip
    jobs = None if session_id is None else edge.sessions.job_ids(session_id)
    return [
        v
        for v in edge.results.validations(jobs)
        if model_id in (None, v.model_id)
        and correlation_id in (None, v.correlation_id)
        and name in (None, v.sender.name)
        and role in (None, v.sender.role)
        and client_id in (None, v.sender.client_id)
    ]


@both(router.get, "/validations", response_model=Listing[Validation], tags=["validations"])
async def validations(
    _: Reader,
    edge: Edge,
    page: Page,
    session_id: Text = None,
    model_id: Text = None,
    correlation_id: Text = None,
    sender_name: Annotated[str | None, Query(alias="sender.name")] = None,
    sender_role: Annotated[str | None, Query(alias="sender.role")] = None,
    sender_client_id: Annotated[str | None, Query(alias="sender.client_id")] = None,
) -> Listing[Validation]:
    """Sites' evaluations of global models, oldest first, with the dialect's filters."""
    found = _validations(
        edge, session_id, model_id, correlation_id, sender_name, sender_role, sender_client_id
    )
    return listing(found, page)


@router.post("/validations/start", tags=["validations"])
async def start_validation(req: StartValidation, who: Writer, edge: Edge) -> dict[str, str]:
    """Every connected site scores ``model_id`` (a ``validate`` job, run by the app that
    trained the model); their scores join ``validations/?session_id=...``."""
    edge.sessions.get(req.session_id)  # 404 for an unknown session
    return edge.predictions.validate(who.identity, req.session_id, req.model_id)


@router.get("/validations/count", response_model=int, tags=["validations"])
async def validations_count(_: Reader, edge: Edge, session_id: Text = None) -> int:
    """How many validations (of one session)."""
    return len(_validations(edge, session_id, None, None, None, None, None))


@router.get("/validations/{validation_id}", response_model=Validation, tags=["validations"])
async def validation(validation_id: str, _: Reader, edge: Edge) -> Validation:
    """One validation."""
    for found in edge.results.validations():
        if found.id == validation_id:
            return found
    raise NotFound(
        f"validation {validation_id!r} not found", details={"validation_id": validation_id}
    )
