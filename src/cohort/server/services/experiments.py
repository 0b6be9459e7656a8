"""Experiments of the REST API: a job built from a built-in recipe and its JSON config.

An experiment's id is its job's id, so the same thing shows in ``cohort job list`` and in
``GET /api/v1/experiments``. Created experiments wait as descriptors in the artifact store
(``rest/experiments/<id>.json``) until ``POST /training/start`` submits their job through
:class:`JobService` like any other; the descriptor stays, holding the experiment's name,
description and policy. Jobs submitted another way are experiments too (without a descriptor).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from cohort.recipes import RECIPES
from cohort.recipes.scripts import TABULAR_DATASETS
from cohort.schemas.records import JobRecord
from cohort.schemas.rest import CreateExperiment, ExperimentCreated, StartTraining
from cohort.server.policy import Action, authorize_key
from cohort.server.services.events import iso
from cohort.server.services.jobs import JobService
from cohort.server.services.recipe_jobs import TabularJob, check_dataset
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.store import JobFilter
from cohort.tls import Identity

__all__ = ["DATASETS", "ExperimentService", "experiment_status"]

#: Data sets the built-in site script trains on (scikit-learn's bundled ones).
DATASETS = TABULAR_DATASETS
DEFAULT_ROUNDS = 5
DEFAULT_EPOCHS = 3
DEFAULT_LR = 0.1
TASK_TIMEOUT = 300.0


def experiment_status(job: JobRecord | None) -> str:
    """The seed's experiment status of a job (None: created, not started)."""
    if job is None:
        return "created"
    if job.status not in JOB_TERMINAL:
        return "running"
    return "completed" if job.status == JobStatus.FINISHED_OK else "failed"


def _key(experiment_id: str) -> str:
    return f"rest/experiments/{experiment_id}.json"


class ExperimentService:
    """Create, list, start and stop experiments."""

    def __init__(self, state: ServerState, jobs: JobService) -> None:
        self.state = state
        self.jobs = jobs

    # -- descriptors ------------------------------------------------------------------------
    def descriptor(self, experiment_id: str) -> dict[str, Any] | None:
        """The stored descriptor of a REST-created experiment, or None."""
        arts = self.state.artifacts
        if not arts.exists(_key(experiment_id)):
            return None
        data: dict[str, Any] = json.loads(arts.path(_key(experiment_id)).read_text())
        return data

    def _save(self, experiment_id: str, data: dict[str, Any]) -> None:
        self.state.artifacts.write_bytes(_key(experiment_id), json.dumps(data).encode())

    def _job(self, experiment_id: str) -> JobRecord | None:
        try:
            return self.state.store.get_job(experiment_id)
        except NotFound:
            return None

    # -- create -----------------------------------------------------------------------------
    def create(self, req: CreateExperiment) -> ExperimentCreated:
        """Check the config by building its job now, then keep it until training starts."""
        experiment_id = req.experiment_id or str(uuid.uuid4())
        if self._job(experiment_id) is not None or self.descriptor(experiment_id) is not None:
            raise Conflict(
                f"experiment {experiment_id!r} already exists",
                details={"experiment_id": experiment_id},
            )
        self.build_job(req)  # refuse a bad config now, not at start
        now = self.state.clock()
        self._save(
            experiment_id,
            {"config": req.model_dump(mode="json", by_alias=True), "created": now, "job": False},
        )
        return ExperimentCreated(
            experiment_id=experiment_id,
            name=req.name,
            status="created",
            created_at=iso(now),
            estimated_duration=None,
            resource_requirements={
                "min_clients": self._min_clients(req),
                **req.policy_config.resource_requirements.model_dump(exclude_none=True),
            },
        )

    @staticmethod
    def _min_clients(req: CreateExperiment) -> int:
        return req.policy_config.min_clients or 2

    def build_job(self, req: CreateExperiment) -> bytes:
        """The job archive of an experiment: its recipe exported with its config."""
        if req.recipe != "fedavg":
            # The built-in site script is a plain FedAvg client: recipes that need site-side
            # help (FedProx's term, SCAFFOLD's control variates) would run mislabeled.
            known = req.recipe in RECIPES
            raise InvalidRequest(
                f"recipe {req.recipe!r} is not available to REST experiments"
                if known
                else f"unknown recipe {req.recipe!r}",
                hint="REST experiments run the fedavg recipe; submit a job folder "
                "(cohort job submit) for the other recipes (cohort recipe list).",
                details={"recipe": req.recipe},
            )
        if req.dataset_config.split_strategy != "iid":
            raise InvalidRequest(
                f"split strategy {req.dataset_config.split_strategy!r} is not supported",
                hint="Use 'iid'.",
            )
        training = req.training_config
        shares = req.dataset_config.clients_count or max(len(self.state.connected_sites()), 1)
        return TabularJob(
            name=req.name,
            dataset=check_dataset(req.dataset_config.name),
            rounds=training.rounds or DEFAULT_ROUNDS,
            min_clients=self._min_clients(req),
            shares=shares,
            epochs=training.local_epochs or DEFAULT_EPOCHS,
            lr=training.learning_rate or DEFAULT_LR,
            task_timeout=TASK_TIMEOUT,
            policies=req.policy_config.job_policies(),
        ).archive(self.state.config.max_job_bytes)

    # -- start and stop ---------------------------------------------------------------------
    def active(self) -> JobRecord | None:
        """The newest job that has not ended, if any."""
        open_jobs = [
            j for j in self.state.store.list_jobs(JobFilter(reverse=True, limit=50))
            if j.status not in JOB_TERMINAL
        ]  # fmt: skip
        return open_jobs[0] if open_jobs else None

    def current(self) -> JobRecord | None:
        """The active job, else the newest job."""
        active = self.active()
        if active is not None:
            return active
        newest = self.state.store.list_jobs(JobFilter(reverse=True, limit=1))
        return newest[0] if newest else None

    def start(self, who: Identity, req: StartTraining) -> tuple[JobRecord, list[str]]:
        """Submit an experiment's job; return it and the sites connected now."""
        running = self.active()
        if running is not None:
            raise Conflict(
                f"experiment {running.job_id} is {running.status}",
                ErrorCode.TRAINING_ALREADY_RUNNING,
                hint="Stop it first (POST /training/stop) or wait for it to end.",
                details={"experiment_id": running.job_id},
            )
        if req.aggregation_config.strategy.lower() != "fedavg":
            raise InvalidRequest(
                f"aggregation strategy {req.aggregation_config.strategy!r} is not available",
                hint="Use 'FedAvg'.",
            )
        exp = req.experiment_config
        experiment_id = exp.experiment_id or str(uuid.uuid4())
        stored = self.descriptor(experiment_id)
        if self._job(experiment_id) is not None:
            raise Conflict(
                f"experiment {experiment_id!r} was already started",
                details={"experiment_id": experiment_id},
            )
        config = self._merge(stored, req, experiment_id)
        connected = [s.name for s in self.state.connected_sites()]
        needed = self._min_clients(config)
        if len(connected) < needed:
            raise Conflict(
                f"{len(connected)} clients are connected; the experiment needs {needed}",
                ErrorCode.INSUFFICIENT_CLIENTS,
                details={"connected": connected, "min_clients": needed},
            )
        data = self.build_job(config)
        job, _ = self.jobs.submit(who, data, job_id=experiment_id)
        self._save(
            experiment_id,
            {
                "config": config.model_dump(mode="json", by_alias=True),
                "created": stored["created"] if stored else job.submit_time,
                "job": True,
            },
        )
        return job, connected

    @staticmethod
    def _merge(
        stored: dict[str, Any] | None, req: StartTraining, experiment_id: str
    ) -> CreateExperiment:
        """A created experiment's config with the start request's values on top."""
        base: dict[str, Any] = dict(stored["config"]) if stored else {"name": experiment_id}
        exp, training = req.experiment_config, req.training_config
        train = {**base.get("training_config", {}), **training.model_dump(exclude_none=True)}
        if exp.rounds is not None:
            train["rounds"] = exp.rounds
        base["training_config"] = train
        if exp.dataset is not None:
            base["dataset_config"] = {**base.get("dataset_config", {}), "name": exp.dataset}
        policy = dict(base.get("policy_config", {}))
        min_clients = exp.min_clients or req.aggregation_config.min_updates
        if min_clients is not None:
            policy["min_clients"] = min_clients
        base["policy_config"] = policy
        base["experiment_id"] = experiment_id
        try:
            return CreateExperiment.model_validate(base)
        except ValidationError as exc:  # the start request's values broke the stored config
            raise InvalidRequest(
                f"the merged experiment config is invalid: {exc.errors()[0]['msg']}",
                details={"errors": [str(e["loc"]) for e in exc.errors()]},
            ) from exc

    def rounds_of(self, job: JobRecord) -> int:
        """How many rounds an experiment's job runs (from its stored server config)."""
        if job.total_rounds:
            return job.total_rounds
        stored = self.descriptor(job.job_id)
        if stored is not None:
            return int(stored["config"]["training_config"].get("rounds") or DEFAULT_ROUNDS)
        return 0

    async def stop(self, experiment_id: str | None, reason: str, who: Identity) -> JobRecord:
        """Abort an experiment's job (the active one when no id is given), if the policy lets
        ``who`` manage it (a lead only its own)."""
        job = self.active() if experiment_id is None else self._job(experiment_id)
        if job is None and experiment_id is not None:
            raise NotFound(
                f"experiment {experiment_id!r} not found",
                details={"experiment_id": experiment_id},
            )
        if job is None or job.status in JOB_TERMINAL:
            raise Conflict(
                "no active experiment to stop"
                if job is None
                else f"experiment {job.job_id} has already ended ({job.status})",
                ErrorCode.EXPERIMENT_NOT_ACTIVE,
            )
        authorize_key(who, Action.MANAGE_JOB, owner=job.submitter)
        return await self.jobs.abort(job.job_id, reason=f"stopped over REST: {reason}")

    # -- list -------------------------------------------------------------------------------
    def list(self) -> list[tuple[str, str, float, JobRecord | None]]:
        """Every experiment, newest first: (id, name, created, job or None if not started)."""
        found: dict[str, tuple[str, str, float, JobRecord | None]] = {}
        for job in self.state.store.list_jobs(JobFilter()):
            found[job.job_id] = (job.job_id, job.name, job.submit_time, job)
        root = self.state.artifacts.path("rest/experiments")
        if root.is_dir():
            for entry in root.glob("*.json"):
                experiment_id = entry.stem
                if experiment_id in found:
                    continue
                data = json.loads(entry.read_text())
                name = str(data["config"].get("name", experiment_id))
                found[experiment_id] = (experiment_id, name, float(data["created"]), None)
        return sorted(found.values(), key=lambda e: e[2], reverse=True)
