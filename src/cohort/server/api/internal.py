"""Internal API (``/internal/v1``): what a job's server process asks of the API process.

Only the server's own certificate may call it; the job process is a client like any other, so
the API process stays the single writer of the store.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cohort.schemas.records import JobRecord, RoundRecord
from cohort.server.api.auth import server_identity
from cohort.server.api.deps import Services, services
from cohort.server.services.events import publish_round_completed
from cohort.server.services.retention import Retention, prune_models
from cohort.server.services.work import TaskBatch, TasksState
from cohort.tls import Identity

__all__ = ["router"]

router = APIRouter(prefix="/internal/v1/jobs/{job_id}", tags=["internal"])
Server = Annotated[Identity, Depends(server_identity)]
Svc = Annotated[Services, Depends(services)]


class Progress(BaseModel):
    """Where the workflow is."""

    current_round: int = Field(ge=0)
    total_rounds: int = Field(ge=0)
    reason: str = ""


class Bookkeeping(BaseModel):
    """Progress and round metrics the job process defers and sends along with its next call,
    so that they cost no request of their own on a round's critical path."""

    progress: Progress | None = None
    round_metrics: dict[int, dict[str, float]] = Field(default_factory=dict)


class CreateTasks(BaseModel):
    """Request to hand a model to sites as tasks."""

    bookkeeping: Bookkeeping | None = None
    round: int = Field(ge=0)
    name: str
    sites: list[str]
    model_key: str
    timeout: float = Field(gt=0)
    meta: dict[str, Any] = Field(default_factory=dict)
    reuse: bool = Field(
        default=False,
        description="Resumed job: hand back a site's open or DONE task of this round and name.",
    )


class TasksQuery(BaseModel):
    """Long-poll on a set of tasks."""

    task_ids: list[str]
    since: int = 0
    wait: float = Field(default=10.0, ge=0, le=60)


class CloseTasks(BaseModel):
    """Tasks whose results are no longer wanted."""

    task_ids: list[str]


class NewRound(BaseModel):
    """A global model written to the artifact store."""

    bookkeeping: Bookkeeping | None = None
    round: int = Field(ge=0)
    model_key: str
    num_updates: int = Field(ge=0)
    num_samples: int = Field(ge=0)
    retention: Retention = Field(default_factory=Retention)


class Rejection(BaseModel):
    """A task's update that validation refused."""

    task_id: str = Field(max_length=200)
    reason: str = Field(max_length=4000)


class Finish(BaseModel):
    """How the workflow ended."""

    bookkeeping: Bookkeeping | None = None
    ok: bool
    reason: str = ""


@router.get("", response_model=JobRecord)
async def get_job(job_id: str, _: Server, svc: Svc) -> JobRecord:
    """The job's record."""
    return svc.jobs.get(job_id)


@router.post("/running", response_model=JobRecord)
async def running(job_id: str, _: Server, svc: Svc, resume: bool = False) -> JobRecord:
    """The job process is up: DISPATCHED -> RUNNING (a resumed job may be RUNNING already)."""
    return svc.work.mark_running(job_id, resume)


@router.get("/rounds", response_model=list[RoundRecord])
async def rounds(job_id: str, _: Server, svc: Svc) -> list[RoundRecord]:
    """The job's model trail (a resumed job continues after its last round)."""
    return svc.jobs.rounds(job_id)


@router.post("/tasks", response_model=TaskBatch)
async def create_tasks(job_id: str, req: CreateTasks, _: Server, svc: Svc) -> TaskBatch:
    """Create tasks for sites."""
    _apply(svc, job_id, req.bookkeeping)
    return svc.work.create_tasks(
        job_id,
        round=req.round,
        name=req.name,
        sites=req.sites,
        model_key=req.model_key,
        timeout=req.timeout,
        meta=req.meta,
        reuse=req.reuse,
    )


@router.post("/tasks/state", response_model=TasksState)
async def tasks_state(job_id: str, req: TasksQuery, _: Server, svc: Svc) -> TasksState:
    """Long-poll: the tasks' state once something changed."""
    return await svc.work.tasks_state(job_id, req.task_ids, req.since, req.wait)


@router.post("/tasks/close", status_code=204)
async def close_tasks(job_id: str, req: CloseTasks, _: Server, svc: Svc) -> None:
    """Cancel tasks the workflow no longer waits for."""
    svc.work.close_tasks(job_id, req.task_ids)


@router.post("/rounds", response_model=RoundRecord)
async def add_round(job_id: str, req: NewRound, _: Server, svc: Svc) -> RoundRecord:
    """Record a round's global model."""
    # Hashed once, in a thread, as the manifest the sites are about to ask for (chunked or
    # not): its sha256 is the round's, and the sites' requests find it cached.
    manifest = await svc.transfer.model_manifest(req.model_key)
    record = svc.work.add_round(
        job_id,
        round=req.round,
        model_key=req.model_key,
        num_updates=req.num_updates,
        num_samples=req.num_samples,
        model_sha256=manifest.sha256,
    )
    _apply(svc, job_id, req.bookkeeping)  # after: metrics may be for this very round
    prune_models(svc.state, job_id, req.retention)  # after: metrics decide the best round
    publish_round_completed(svc.state, record)  # after: it carries the metrics just applied
    return record


@router.post("/rejections", response_model=JobRecord)
async def reject_update(job_id: str, req: Rejection, _: Server, svc: Svc) -> JobRecord:
    """Record an update the workflow refused before aggregation."""
    return svc.work.reject_update(job_id, req.task_id, req.reason)


@router.post("/finish", response_model=JobRecord)
async def finish(job_id: str, req: Finish, _: Server, svc: Svc) -> JobRecord:
    """End the job."""
    _apply(svc, job_id, req.bookkeeping)
    return svc.work.finish(job_id, req.ok, req.reason)


def _apply(svc: Services, job_id: str, bookkeeping: Bookkeeping | None) -> None:
    if bookkeeping is None:
        return
    if bookkeeping.progress is not None:
        p = bookkeeping.progress
        svc.work.set_progress(job_id, p.current_round, p.total_rounds, p.reason)
    for rnd, metrics in sorted(bookkeeping.round_metrics.items()):
        svc.work.set_round_metrics(job_id, rnd, metrics)
