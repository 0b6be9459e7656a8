"""Fleet API (``/fleet/v1``): what site agents and their job scripts call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from cohort.errors import ErrorCode, PayloadTooLarge
from cohort.schemas.fleet import (
    BODY_SHA256_HEADER,
    LOG_STREAM_HEADER,
    LOG_STREAM_OFF,
    MODEL_CHUNKED_HEADER,
    MODEL_SHA256_HEADER,
    MODEL_SIZE_HEADER,
    SITES_HEADER,
    SUBMITTER_HEADER,
    TASK_HEADER,
    HeartbeatReply,
    HeartbeatRequest,
    SiteFailureReport,
    TaskHeader,
    UpdateReceipt,
)
from cohort.schemas.job import LogFileName
from cohort.server.api.auth import site_identity
from cohort.server.api.deps import Services, services
from cohort.server.api.files import BulkFileResponse
from cohort.server.services.jobs import job_dir
from cohort.server.services.logstore import stream_plan
from cohort.server.services.transfer import MAX_CHUNK_BYTES
from cohort.tls import Identity
from cohort.wire.payload import PayloadHeader, encode_payload

__all__ = ["router"]

router = APIRouter(prefix="/fleet/v1", tags=["fleet"])
Site = Annotated[Identity, Depends(site_identity)]
Svc = Annotated[Services, Depends(services)]
_MAX_LOG_CHUNK = 1024 * 1024


@router.post("/heartbeat", response_model=HeartbeatReply)
async def heartbeat(req: HeartbeatRequest, site: Site, svc: Svc) -> HeartbeatReply:
    """A site is alive; the reply says which jobs it should start or stop."""
    return svc.fleet.heartbeat(site, req)


@router.get("/jobs/{job_id}/app")
async def job_app(job_id: str, site: Site, svc: Svc) -> BulkFileResponse:
    """The job archive, for a site taking part in the job; a header says whether and as which
    file the site streams its job log."""
    job = svc.fleet.job_for_site(site, job_id)
    path = svc.state.artifacts.path(f"{job_dir(job_id)}/job.zip")
    plan = stream_plan(svc.state, job, site.name)
    submitter = f"{job.submitter},{job.submitter_org},{job.submitter_role}"
    headers = {
        SITES_HEADER: ",".join(job.sites),
        LOG_STREAM_HEADER: plan.file or LOG_STREAM_OFF,
        SUBMITTER_HEADER: submitter,
    }
    return BulkFileResponse(path, media_type="application/zip", headers=headers)


@router.get("/jobs/{job_id}/task", response_model=None)
async def next_task(
    job_id: str,
    site: Site,
    svc: Svc,
    wait: Annotated[float, Query(ge=0, le=60)] = 20.0,
    chunk: Annotated[int | None, Query(gt=0, le=MAX_CHUNK_BYTES)] = None,
) -> Response:
    """Long-poll for the site's next task: 200 with the model, 204 when none came in time,
    409 JOB_NOT_RUNNING once the job has ended.

    The model's size and sha256 ride in headers. A model larger than the site's ``chunk``
    is not sent here: the body is empty and the site fetches it in chunks (``.../model``).
    """
    task = await svc.fleet.next_task(site, job_id, wait)
    if task is None:
        return Response(status_code=204)
    meta = dict(task.meta)
    header = TaskHeader(
        task_id=task.task_id,
        job_id=task.job_id,
        site=task.site,
        name=task.name,
        current_round=task.round,
        total_rounds=int(meta.pop("total_rounds", 0)),
        meta=meta,
    )
    headers = {TASK_HEADER: header.model_dump_json()}
    path = svc.fleet.task_model_path(task)
    if path is None:
        # A task with no model (submit_model): an empty payload with just a header.
        body = encode_payload({}, PayloadHeader(kind="model", current_round=task.round))
        return Response(body, media_type="application/octet-stream", headers=headers)
    manifest = await svc.transfer.manifest(Path(path), chunk or MAX_CHUNK_BYTES)
    headers[MODEL_SIZE_HEADER] = str(manifest.size)
    headers[MODEL_SHA256_HEADER] = manifest.sha256
    if chunk is not None and manifest.size > chunk:
        headers[MODEL_CHUNKED_HEADER] = "1"
        return Response(b"", media_type="application/octet-stream", headers=headers)
    # Streams the stored model (1 MiB at a time) without reading it into memory.
    return BulkFileResponse(path, media_type="application/octet-stream", headers=headers)


@router.post("/jobs/{job_id}/tasks/{task_id}/result", response_model=UpdateReceipt)
async def task_result(
    job_id: str, task_id: str, request: Request, site: Site, svc: Svc
) -> UpdateReceipt:
    """Upload a task's result (a safetensors payload) in one request, streamed to disk and
    checked against the ``X-Cohort-Sha256`` header when the site sends one."""
    expected = request.headers.get(BODY_SHA256_HEADER)
    return await svc.fleet.accept_update(site, job_id, task_id, request.stream(), expected)


@router.post("/jobs/{job_id}/exit", status_code=204)
async def job_exit(job_id: str, report: SiteFailureReport, site: Site, svc: Svc) -> Response:
    """The job's script ended on the site before the job did."""
    svc.fleet.site_exit(site, job_id, report)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/log", status_code=204)
async def job_log(
    job_id: str, request: Request, site: Site, svc: Svc, file: LogFileName = "log.txt"
) -> Response:
    """Append a chunk of the site's job log (``file``: the one the app download named)."""
    chunk = await request.body()
    if len(chunk) > _MAX_LOG_CHUNK:
        raise PayloadTooLarge(
            f"log chunk over {_MAX_LOG_CHUNK} bytes", code=ErrorCode.PAYLOAD_TOO_LARGE
        )
    svc.fleet.append_log(site, job_id, chunk, file)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/metrics", status_code=204)
async def job_metrics(
    job_id: str,
    site: Site,
    svc: Svc,
    records: Annotated[list[dict[str, Any]], Body(max_length=10_000)],
) -> Response:
    """Metric records logged by the site's script."""
    svc.fleet.add_metrics(site, job_id, records)
    return Response(status_code=204)
