"""Admin API (``/admin/v1/jobs/{job_id}/...``): a job's stored logs, statistics, log config."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cohort.schemas.admin import DEFAULT_STUDY, JobLogs, JobStats, LogConfigReply, LogConfigRequest
from cohort.schemas.job import LogFileName
from cohort.server.api.deps import Services, services
from cohort.server.api.guard import JobManager, Viewer

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1/jobs/{job_id}", tags=["admin"])
Svc = Annotated[Services, Depends(services)]
Study = Annotated[str, Query(max_length=64, description="The study the job belongs to.")]
Site = Annotated[str, Query(max_length=128, description='"server", "all", or a site name.')]


@router.get("/logs", response_model=JobLogs)
async def job_logs(
    job_id: str,
    _: Viewer,
    svc: Svc,
    study: Study = DEFAULT_STUDY,
    site: Site = "server",
    prefer: LogFileName = "log.txt",
) -> JobLogs:
    """Stored job logs: the server job process's and the sites' streamed ones (a site's
    ``prefer`` file when it has both log.txt and log.json)."""
    return await svc.observe.logs(job_id, study, site, prefer)


@router.get("/stats", response_model=JobStats)
async def job_stats(
    job_id: str, _: Viewer, svc: Svc, study: Study = DEFAULT_STUDY, site: Site = "all"
) -> JobStats:
    """Round, status, per-site task counts and updates received, from the store."""
    return svc.observe.stats(job_id, study, site)


@router.post("/log-config", response_model=LogConfigReply)
async def job_log_config(
    job_id: str, req: LogConfigRequest, _: JobManager, svc: Svc, study: Study = DEFAULT_STUDY
) -> LogConfigReply:
    """Change the log level or mode of a running job's processes (server and/or sites)."""
    return svc.observe.set_log_config(job_id, study, req.setting, req.site)
