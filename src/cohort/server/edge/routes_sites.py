"""Edge routes for work sent to sites outside sessions: predictions and custom commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cohort.errors import InvalidRequest
from cohort.schemas.edge import (
    CommandRecord,
    Listing,
    Prediction,
    RunCommand,
    StartInference,
    StartPredictions,
)
from cohort.server.edge.deps import Edge, Page, Reader, Writer, both, listing
from cohort.server.rest.deps import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Text = Annotated[str | None, Query(max_length=200)]


@both(router.get, "/predictions", response_model=Listing[Prediction], tags=["predictions"])
async def predictions(
    _: Reader,
    edge: Edge,
    page: Page,
    model_id: Text = None,
    correlation_id: Text = None,
    client_id: Text = None,
) -> Listing[Prediction]:
    """Sites' prediction answers, oldest first; ``correlation_id`` is the prediction run."""
    found = [
        p
        for p in edge.predictions.all()
        if model_id in (None, p.model_id)
        and correlation_id in (None, p.correlation_id)
        and client_id in (None, p.sender.client_id)
    ]
    return listing(found, page)


@router.post("/predictions/start", tags=["predictions"])
async def start_predictions(req: StartPredictions, who: Writer, edge: Edge) -> dict[str, str]:
    """Run a model (default: the newest global one) on every connected site."""
    return edge.predictions.start(who.identity, req.model_id, req.prediction_id)


@router.post("/control/start_inference", tags=["predictions"])
async def start_inference(req: StartInference, who: Writer, edge: Edge) -> dict[str, str]:
    """The newer clients' form of ``predictions/start``, with chosen sites and a timeout."""
    return edge.predictions.start(who.identity, req.model_id, None, req.client_ids, req.timeout)


@router.post("/control/run_command", response_model=CommandRecord, tags=["commands"])
async def run_command(req: RunCommand, who: Writer, edge: Edge) -> CommandRecord:
    """Send a custom command (``Custom_<name>``) to sites; ``synchronous``/``blocking`` wait
    for their answers (up to ``timeout``)."""
    return await edge.commands.run(who.identity, req, req.synchronous or req.blocking)


@both(router.get, "/commands", response_model=Listing[CommandRecord], tags=["commands"])
async def commands(
    _: Reader, edge: Edge, page: Page, parent_correlation_id: Text = None
) -> Listing[CommandRecord]:
    """Every custom command, oldest first. No command has a parent, so a
    ``parent_correlation_id`` filter finds none."""
    return listing([] if parent_correlation_id else edge.commands.all(), page)


@router.get("/commands/count", response_model=int, tags=["commands"])
async def commands_count(_: Reader, edge: Edge) -> int:
    """How many custom commands."""
    return len(edge.commands.all())


@router.get("/commands/roots", response_model=Listing[CommandRecord], tags=["commands"])
async def command_roots(_: Reader, edge: Edge, page: Page) -> Listing[CommandRecord]:
    """Commands without a parent: every custom command (none has sub-commands)."""
    return listing(edge.commands.all(), page)


@router.get("/commands/{command_id}", response_model=CommandRecord, tags=["commands"])
async def command(command_id: str, _: Reader, edge: Edge) -> CommandRecord:
    """One custom command and its sites' answers."""
    return edge.commands.get(command_id)


@router.post("/commands/{command_id}/stop", response_model=CommandRecord, tags=["commands"])
async def stop_command(command_id: str, who: Writer, edge: Edge) -> CommandRecord:
    """Stop a running command: its job is aborted (``FINISHED_ABORTED``)."""
    return await edge.commands.stop(who.identity, command_id)


@router.post("/commands/{command_id}/skip", tags=["commands"])
async def skip_command(command_id: str, _: Writer, edge: Edge) -> None:
    """Refused: a custom command is one task per site, with no barrier to skip."""
    edge.commands.get(command_id)
    raise InvalidRequest(
        "a custom command has no synchronization barrier to skip",
        hint=f"Stop it with POST commands/{command_id}/stop.",
        details={"command_id": command_id},
    )
