"""Edge routes for predictions: start inference on the sites, read what they answered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cohort.schemas.edge import Listing, Prediction, StartInference, StartPredictions
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
