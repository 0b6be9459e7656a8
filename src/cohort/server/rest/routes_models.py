"""REST v1 routes for models and metrics (seed 003)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from cohort.schemas.records import JobRecord
from cohort.schemas.rest import (
    ID_PATTERN,
    ClientPerformance,
    GlobalModel,
    TrainingMetrics,
    UpdateReceived,
    ValidationReport,
)
from cohort.server.api.deps import Services
from cohort.server.api.files import BulkFileResponse
from cohort.server.rest.deps import ERROR_RESPONSES, Caller, caller, rest_services
from cohort.server.services.training_metrics import client_performance, training_metrics

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES)
Svc = Annotated[Services, Depends(rest_services)]
Reader = Annotated[Caller, Depends(caller())]
Uploader = Annotated[Caller, Depends(caller("upload"))]
ExperimentId = Annotated[str | None, Query(pattern=ID_PATTERN)]
CHUNK = 1024 * 1024


def _experiment(svc: Services, experiment_id: str | None) -> JobRecord:
    """The named experiment's job, else the current one; 404 / 409 when there is none."""
    if experiment_id is not None:
        try:
            return svc.state.store.get_job(experiment_id)
        except NotFound:
            raise NotFound(
                f"experiment {experiment_id!r} not found (or not started)",
                details={"experiment_id": experiment_id},
            ) from None
    job = svc.experiments.current()
    if job is None:
        raise Conflict("no experiment has run yet", ErrorCode.EXPERIMENT_NOT_ACTIVE)
    return job


def _active(svc: Services) -> JobRecord:
    job = svc.experiments.active()
    if job is None:
        raise Conflict(
            "no experiment is running",
            ErrorCode.EXPERIMENT_NOT_ACTIVE,
            hint="Start one with POST /api/v1/training/start.",
        )
    return job


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while data := await upload.read(CHUNK):
        yield data


def _check_metrics(text: str | None) -> None:
    """The ``metrics`` form field must be a JSON object of numbers (the payload's own header
    carries the metrics that are stored; cohort.rest.FLClient puts them there)."""
    if text is None:
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # nesting past the parser's stack is not JSON here
        raise InvalidRequest("metrics is not valid JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise InvalidRequest("metrics must be a JSON object of numbers")


@router.get("/model/global", response_model=GlobalModel, tags=["model"])
async def global_model(
    _: Reader,
    svc: Svc,
    round: Annotated[int | None, Query(ge=0)] = None,
    format: str = "safetensors",
    experiment_id: ExperimentId = None,
) -> GlobalModel:
    """A global model's description (the newest round unless ``round`` is given)."""
    job = _experiment(svc, experiment_id)
    return svc.models.describe(job, svc.models.pick(job, round), format)


@router.get(
    "/model/download/{model_id}",
    response_class=BulkFileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    tags=["model"],
)
async def download_model(model_id: str, _: Reader, svc: Svc) -> BulkFileResponse:
    """The model file (safetensors with Cohort's header), streamed."""
    path = svc.models.file(model_id)
    return BulkFileResponse(
        path, media_type="application/octet-stream", filename=f"{model_id}.safetensors"
    )


@router.post("/model/update/{client_id}", response_model=UpdateReceived, tags=["model"])
async def upload_update(
    client_id: str,
    _: Uploader,
    svc: Svc,
    model_file: Annotated[UploadFile, File(description="A Cohort update payload.")],
    metrics: Annotated[str | None, Form(description="JSON object of numbers.")] = None,
) -> UpdateReceived:
    """A registered client's update for its open task of the active round; checked and
    stored exactly like a site's."""
    svc.clients.require(client_id)
    _check_metrics(metrics)
    return await svc.models.upload(client_id, _active(svc), _chunks(model_file))


@router.post("/model/validate/{client_id}", response_model=ValidationReport, tags=["model"])
async def validate_update(
    client_id: str,
    _: Uploader,
    svc: Svc,
    model_file: Annotated[UploadFile, File(description="safetensors tensors.")],
    experiment_id: ExperimentId = None,
) -> ValidationReport:
    """Check an update against the newest global model without keeping it."""
    svc.clients.require(client_id)
    return await svc.models.validate(
        client_id, _experiment(svc, experiment_id), _chunks(model_file)
    )


@router.get("/metrics/training", response_model=TrainingMetrics, tags=["metrics"])
async def metrics_training(
    _: Reader,
    svc: Svc,
    experiment_id: ExperimentId = None,
    from_round: Annotated[int | None, Query(ge=0)] = None,
    to_round: Annotated[int | None, Query(ge=0)] = None,
    client_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> TrainingMetrics:
    """Per-round metrics of an experiment (the current one by default)."""
    if from_round is not None and to_round is not None and from_round > to_round:
        raise InvalidRequest("from_round is after to_round")
    job = _experiment(svc, experiment_id)
    return training_metrics(svc.state, job, from_round, to_round, client_id)


@router.get("/metrics/clients/{client_id}", response_model=ClientPerformance, tags=["metrics"])
async def metrics_client(client_id: str, _: Reader, svc: Svc) -> ClientPerformance:
    """A client's updates over the newest experiments, with statistics."""
    svc.clients.require(client_id)
    history = svc.clients.histories().get(client_id)
    trust = history.trust_score if history else 1.0
    contribution = history.contribution_score if history else 0.0
    return client_performance(svc.state, client_id, trust, contribution)
