"""Edge routes that steer sessions and models: ``control/stop`` (abort the running session),
and the dialect's calls Cohort refuses with a reason: ``control/continue`` and
``models/{id}/stage``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from cohort.errors import InvalidRequest
from cohort.schemas.edge import StopSession
from cohort.server.edge.deps import Edge, Writer
from cohort.server.rest.deps import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/control/stop", tags=["sessions"])
async def stop(
    who: Writer, edge: Edge, req: Annotated[StopSession | None, Body()] = None
) -> dict[str, Any]:
    """Stop the running session (or ``session_id``'s): its run's job is aborted
    (``FINISHED_ABORTED``) and the session is ``Failed``. 409 CONFLICT when none runs."""
    stopped = await edge.sessions.stop(who.identity, req.session_id if req else None)
    return {"success": True, "message": f"stopped {', '.join(stopped)}", "job_ids": stopped}


@router.post("/control/continue", tags=["sessions"])
async def continue_(_: Writer) -> None:
    """Refused: a round closes by itself once it has its updates (and ``wait_after_min``
    passed); there is no barrier for a caller to release."""
    raise InvalidRequest(
        "Cohort's sessions have no synchronization barrier to continue past",
        hint="A round closes once it has clients_required updates; "
        "continue a finished session with sessions/start.",
    )


@router.post("/models/{model_id}/stage", tags=["models"])
async def stage(model_id: str, _: Writer, edge: Edge) -> None:
    """Refused: sites keep no staged model; a model travels with the task that uses it."""
    edge.models.get(model_id)  # an unknown id is 404 first
    raise InvalidRequest(
        "models are not staged on sites in Cohort",
        hint="Predict with it (control/start_inference) or start a session from it "
        "(seed_model_id); the model is sent with each task.",
        details={"model_id": model_id},
    )
