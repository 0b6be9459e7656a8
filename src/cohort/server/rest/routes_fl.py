"""REST v1 routes for the server, its clients, training and experiments (seed 003)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from cohort.schemas.rest import (
    ID_PATTERN,
    ClientDetail,
    ClientList,
    ClientRegistration,
    ClientSelection,
    CreateExperiment,
    ExperimentCreated,
    ExperimentList,
    ExperimentSummary,
    Health,
    RegisterClient,
    ServerStatus,
    StartTraining,
    StopTraining,
    TrainingStarted,
    TrainingStatus,
    TrainingStopped,
)
from cohort.server.api.deps import Services
from cohort.server.policy import Action
from cohort.server.rest import views
from cohort.server.rest.deps import ERROR_RESPONSES, Caller, caller, rest_services
from cohort.server.rest.policy import select_clients
from cohort.server.services.clients import ClientHistory
from cohort.server.services.events import iso, progress_of
from cohort.server.services.experiments import experiment_status

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES)
Svc = Annotated[Services, Depends(rest_services)]
Reader = Annotated[Caller, Depends(caller())]
Submitter = Annotated[Caller, Depends(caller(action=Action.SUBMIT))]
Manager = Annotated[Caller, Depends(caller(action=Action.MANAGE_JOB))]
Starter = Annotated[Caller, Depends(caller("training_start", action=Action.SUBMIT))]
ClientId = Annotated[str, Query(pattern=ID_PATTERN)]


@router.get("/status", response_model=ServerStatus, tags=["server"])
async def status(_: Reader, svc: Svc) -> ServerStatus:
    """The server's status and the current experiment's configuration."""
    return views.server_status(svc)


@router.get("/health", response_model=Health, tags=["server"])
async def health(svc: Svc) -> Health:
    """Liveness and resource use. Needs no API key, so load balancers can probe it."""
    return views.health(svc)


@router.post("/clients/register", response_model=ClientRegistration, tags=["clients"])
async def register_client(req: RegisterClient, _: Reader, svc: Svc) -> ClientRegistration:
    """Register a client (again: its configuration is replaced, its registration id kept)."""
    job = svc.experiments.active()
    assigned = (job.current_round or 0) + 1 if job is not None else 1
    return svc.clients.register(req, assigned)


@router.get("/clients/select", response_model=ClientSelection, tags=["clients"])
async def select(
    _: Reader,
    svc: Svc,
    round: Annotated[int | None, Query(ge=0)] = None,
    policy_check: bool = True,
) -> ClientSelection:
    """The clients a round would use: connected sites, minus those the policies exclude."""
    return select_clients(svc, round, policy_check)


@router.get("/clients/{client_id}", response_model=ClientDetail, tags=["clients"])
async def get_client(client_id: str, _: Reader, svc: Svc) -> ClientDetail:
    """One client's status, newest metrics and scores."""
    svc.clients.require(client_id)
    history = svc.clients.histories().get(client_id)
    return views.client_detail(svc, client_id, history or ClientHistory())


@router.get("/clients", response_model=ClientList, tags=["clients"])
async def list_clients(
    _: Reader,
    svc: Svc,
    status: Literal["active", "inactive", "registered"] | None = None,
    round: Annotated[int | None, Query(ge=0)] = None,
) -> ClientList:
    """Every client; ``status`` keeps one status, ``round`` those that sent an update in that
    round of the current experiment."""
    return views.client_list(svc, status, round)


@router.post("/training/start", response_model=TrainingStarted, tags=["training"])
async def start_training(req: StartTraining, who: Starter, svc: Svc) -> TrainingStarted:
    """Start an experiment: a created one (``experiment_config.experiment_id``) or a new one
    from these configs. Its job runs on the connected sites like any job."""
    job, connected = svc.experiments.start(who.identity, req)
    return TrainingStarted(
        experiment_id=job.job_id,
        status="started",
        start_time=iso(job.submit_time),
        total_rounds=int(svc.experiments.rounds_of(job)),
        current_round=1,
        selected_clients=connected,
        estimated_duration=None,
    )


@router.post("/training/stop", response_model=TrainingStopped, tags=["training"])
async def stop_training(req: StopTraining, who: Manager, svc: Svc) -> TrainingStopped:
    """Stop (abort) an experiment: the given one, or the active one."""
    job = await svc.experiments.stop(req.experiment_id, req.reason, who.identity)
    return TrainingStopped(
        experiment_id=job.job_id, status=str(job.status).lower(), reason=req.reason, timestamp=iso()
    )


@router.get("/training/status", response_model=TrainingStatus, tags=["training"])
async def training_status(_: Reader, svc: Svc) -> TrainingStatus:
    """The active experiment's progress (else the newest experiment's; else idle)."""
    return views.training_status(svc)


@router.post(
    "/experiments", response_model=ExperimentCreated, status_code=201, tags=["experiments"]
)
async def create_experiment(req: CreateExperiment, _: Submitter, svc: Svc) -> ExperimentCreated:
    """Create an experiment from a built-in recipe and its config; start it with
    POST /training/start and its ``experiment_id``."""
    return svc.experiments.create(req)


@router.get("/experiments", response_model=ExperimentList, tags=["experiments"])
async def list_experiments(
    _: Reader,
    svc: Svc,
    status: Literal["created", "running", "completed", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ExperimentList:
    """Experiments, newest first: REST-created ones and every job."""
    found = [
        ExperimentSummary(
            experiment_id=eid,
            name=name,
            status=experiment_status(job),
            job_status=str(job.status) if job else None,
            created_at=iso(created),
            progress=progress_of(job) if job else 0.0,
        )
        for eid, name, created, job in svc.experiments.list()
    ]
    if status is not None:
        found = [e for e in found if e.status == status]
    page = found[offset : offset + limit]
    return ExperimentList(
        experiments=page, total_count=len(found), has_more=offset + len(page) < len(found)
    )
