"""Admin API (``/admin/v1``): jobs and sites, for the session API and the CLI.

Every route that names a job takes ``study`` (default "default"): a job in another study is
JOB_NOT_FOUND, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from cohort.errors import ErrorCode, PayloadTooLarge
from cohort.schemas.admin import DEFAULT_STUDY, CloneReply, DeleteReply, SubmitReply
from cohort.schemas.records import JobRecord, RoundRecord, SiteRecord
from cohort.server.api.deps import Services, services
from cohort.server.api.files import BulkFileResponse
from cohort.server.api.guard import JobManager, Submitter, Viewer
from cohort.states import JobStatus
from cohort.store import JobFilter

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])
Svc = Annotated[Services, Depends(services)]
Study = Annotated[str, Query(max_length=64, description="The study the job belongs to.")]


class SiteStatus(BaseModel):
    """A site with whether it is connected now."""

    site: SiteRecord
    connected: bool


class SystemInfo(BaseModel):
    """Server status and its sites."""

    status: str
    start_time: float
    sites: list[SiteStatus]
    running_jobs: list[str]


@router.post("/jobs", response_model=SubmitReply, status_code=201)
async def submit_job(
    request: Request,
    who: Submitter,
    svc: Svc,
    study: Study = DEFAULT_STUDY,
    submit_token: Annotated[str | None, Query(max_length=128)] = None,
) -> SubmitReply:
    """Submit a job folder, sent as a zip archive in the request body.

    With ``submit_token``, a retry of the same content returns the job of the first submit.
    """
    limit = svc.state.config.max_job_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(
                f"job archive is over the {limit} byte limit", code=ErrorCode.JOB_TOO_LARGE
            )
    record, created = svc.jobs.submit(who, bytes(body), study, submit_token)
    return SubmitReply(job_id=record.job_id, study=record.study, created=created)


@router.get("/jobs", response_model=list[JobRecord])
async def list_jobs(
    who: Viewer,
    svc: Svc,
    study: str | None = None,
    submit_token: Annotated[str | None, Query(max_length=128)] = None,
    id_prefix: str | None = None,
    name_prefix: str | None = None,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    reverse: bool = False,
) -> list[JobRecord]:
    """List jobs, oldest first (newest first with ``reverse``); study "all" lists every study.

    With ``submit_token``: the job the caller's token created in ``study`` (default
    "default"), or none; SUBMIT_TOKEN_JOB_DELETED when that job was deleted.
    """
    if submit_token is not None:
        return svc.jobs.find_by_token(who, study or DEFAULT_STUDY, submit_token)
    flt = JobFilter(
        study=study,
        id_prefix=id_prefix,
        name_prefix=name_prefix,
        statuses=status,
        limit=limit,
        reverse=reverse,
    )
    return svc.jobs.find(flt)


@router.get("/jobs/{job_id}", response_model=JobRecord)
async def get_job(
    job_id: str,
    _: Viewer,
    svc: Svc,
    study: Study = DEFAULT_STUDY,
    since_version: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=60)] = 0.0,
) -> JobRecord:
    """A job's meta; with ``wait``, returns once its version passes ``since_version``."""
    if wait > 0:
        return await svc.jobs.wait_for_change(job_id, since_version, wait, study)
    return svc.jobs.get(job_id, study)


@router.get("/jobs/{job_id}/rounds", response_model=list[RoundRecord])
async def job_rounds(
    job_id: str, _: Viewer, svc: Svc, study: Study = DEFAULT_STUDY
) -> list[RoundRecord]:
    """The job's model trail: one global model per round, with its metrics."""
    return svc.jobs.rounds(job_id, study)


@router.post("/jobs/{job_id}/abort", response_model=JobRecord)
async def abort_job(
    job_id: str, who: JobManager, svc: Svc, study: Study = DEFAULT_STUDY
) -> JobRecord:
    """Abort a job (no effect once it has ended)."""
    return await svc.jobs.abort(job_id, reason=f"aborted by {who.name}", study=study)


@router.delete("/jobs/{job_id}", response_model=DeleteReply)
async def delete_job(
    job_id: str, who: JobManager, svc: Svc, study: Study = DEFAULT_STUDY
) -> DeleteReply:
    """Delete a job (aborting it first if it runs), on the server and on every site."""
    return await svc.jobs.delete(who, job_id, study)


@router.post("/jobs/{job_id}/clone", response_model=CloneReply, status_code=201)
async def clone_job(
    job_id: str, who: Submitter, svc: Svc, study: Study = DEFAULT_STUDY
) -> CloneReply:
    """Submit a job's stored archive again as a new job in the same study."""
    return svc.jobs.clone(who, job_id, study)


@router.get("/jobs/{job_id}/result")
async def job_result(
    job_id: str, _: Viewer, svc: Svc, study: Study = DEFAULT_STUDY
) -> BulkFileResponse:
    """The job's result archive (JOB_NOT_DONE until the job has ended)."""
    path = await svc.jobs.result_archive(job_id, study)
    return BulkFileResponse(path, media_type="application/zip", filename=f"{job_id}.zip")


@router.get("/system", response_model=SystemInfo)
async def system_info(_: Viewer, svc: Svc) -> SystemInfo:
    """Server status, sites with their connection state, running jobs."""
    state = svc.state
    now = state.clock()
    sites = [
        SiteStatus(site=s, connected=state.is_connected(s, now)) for s in state.store.list_sites()
    ]
    running = state.store.list_jobs(JobFilter(statuses=[JobStatus.DISPATCHED, JobStatus.RUNNING]))
    return SystemInfo(
        status="started",
        start_time=state.started,
        sites=sites,
        running_jobs=[j.job_id for j in running],
    )
