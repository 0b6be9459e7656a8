"""Sessions of the edge API: a session is a job started from the built-in recipe (like a REST
experiment), and each ``sessions/start`` after the first continues it as one more job that
starts from the session's newest global model. Each run's sites run the compute package that
is active when it starts: the built-in script, or the newest uploaded package.

A session created over the edge API keeps a descriptor at ``edge/sessions/<id>.json`` (its
name, config, seed model and runs: ``[{job_id, parent_model, package_id}]``); its first job's
id is the session id, so ``cohort job list`` shows it. Jobs started another way are sessions
too, with one run and no descriptor, but for prediction and validation runs and custom commands
(predictions.py, commands.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from cohort.errors import Conflict, InvalidRequest, NotFound
from cohort.schemas.edge import (
    NewSession,
    Package,
    SessionConfig,
    SessionCreated,
    SessionStart,
    SessionView,
)
from cohort.schemas.records import JobRecord
from cohort.server.services.commands import JOB_PREFIX as COMMAND_JOBS
from cohort.server.services.edge_models import EdgeModelService
from cohort.server.services.edge_network import EdgeNetworkService
from cohort.server.services.edge_packages import EdgePackageService
from cohort.server.services.events import iso
from cohort.server.services.jobs import JobService
from cohort.server.services.predictions import JOB_PREFIX as PREDICTION_JOBS
from cohort.server.services.predictions import VALIDATION_JOBS
from cohort.server.services.recipe_jobs import TabularJob, check_dataset
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.store import JobFilter
from cohort.tls import Identity

__all__ = ["AGGREGATORS", "SessionService", "SessionState", "session_status"]

SessionState = Literal["Created", "Started", "Finished", "Failed"]

#: The seed's aggregator names -> the FedAvg workflow's aggregation rule.
AGGREGATORS = {
    "fedavg": "weighted_mean",
    "median": "median",
    "trimmed_mean": "trimmed_mean",
    "krum": "krum",
    "multi_krum": "multi_krum",
}
#: Jobs that are not sessions: prediction and validation runs, custom commands.
NOT_SESSIONS = (PREDICTION_JOBS, VALIDATION_JOBS, COMMAND_JOBS)
#: aggregator_kwargs the workflow takes.
AGGREGATOR_KWARGS = ("trim_ratio", "num_byzantine", "multi_krum_m")


def session_status(job: JobRecord | None) -> SessionState:
    """Created (no run yet), Started, Finished or Failed: the newest run's state."""
    if job is None:
        return "Created"
    if job.status not in JOB_TERMINAL:
        return "Started"
    return "Finished" if job.status == JobStatus.FINISHED_OK else "Failed"


def _key(session_id: str) -> str:
    return f"edge/sessions/{session_id}.json"


class SessionService:
    """Create, start, continue and read sessions."""

    def __init__(
        self,
        state: ServerState,
        jobs: JobService,
        models: EdgeModelService,
        packages: EdgePackageService,
        network: EdgeNetworkService,
    ) -> None:
        self.state = state
        self.jobs = jobs
        self.models = models
        self.packages = packages
        self.network = network

    # -- descriptors ------------------------------------------------------------------------
    def _load(self, session_id: str) -> dict[str, Any] | None:
        arts = self.state.artifacts
        if not arts.exists(_key(session_id)):
            return None
        data: dict[str, Any] = json.loads(arts.path(_key(session_id)).read_text())
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.state.artifacts.write_bytes(_key(data["session_id"]), json.dumps(data).encode())

    def _job(self, job_id: str) -> JobRecord | None:
        try:
            return self.state.store.get_job(job_id)
        except NotFound:
            return None

    # -- create -----------------------------------------------------------------------------
    def create(self, req: NewSession) -> SessionCreated:
        """Check the config by building its job now; keep it until ``sessions/start``."""
        session_id = uuid.uuid4().hex[:16]
        name = req.name or session_id
        if any(s.name == name for s in self.all()):
            raise Conflict(f"a session named {name!r} exists", details={"name": name})
        config = req.session_config
        seed = req.seed_model_id or config.model_id
        if seed is not None:
            self.models.get(seed)  # NOT_FOUND now, not at start
        self._build(name, config, seed, None, self.packages.active())
        self._save(
            {
                "session_id": session_id,
                "name": name,
                "config": config.model_dump(mode="json", by_alias=True),
                "seed_model_id": seed,
                "created": self.state.clock(),
                "runs": [],
            }
        )
        return SessionCreated(session_id=session_id, name=name, message="Session created.")

    def _build(
        self,
        name: str,
        config: SessionConfig,
        parent: str | None,
        rounds: int | None,
        package: Package,
    ) -> bytes:
        if config.server_functions:
            # Running it would run a caller's code on the server; Cohort's sessions run the
            # workflow only. Refused rather than ignored, so nobody trusts it ran.
            raise InvalidRequest(
                "server_functions are refused: running them would run a caller's code in the "
                "server",
                hint="Put your code in a compute package (it runs on the sites) or submit a "
                "job folder with a custom workflow (cohort job submit).",
            )
        if config.helper_type not in (None, "numpyhelper"):
            raise InvalidRequest(
                f"helper {config.helper_type!r} is not available",
                hint="Use 'numpyhelper' (models travel as safetensors of numpy arrays).",
            )
        rule = AGGREGATORS.get(config.aggregator.lower())
        if rule is None:
            raise InvalidRequest(
                f"unknown aggregator {config.aggregator!r}",
                hint=f"Use one of: {', '.join(AGGREGATORS)}.",
            )
        kwargs = dict(config.aggregator_kwargs or {})
        unknown = sorted(set(kwargs) - set(AGGREGATOR_KWARGS))
        if unknown:
            raise InvalidRequest(
                f"unknown aggregator_kwargs {unknown}",
                hint=f"Known: {', '.join(AGGREGATOR_KWARGS)}.",
            )
        sites = self.network.select_sites(config.client_attributes)
        connected = len(self.state.connected_sites())
        requested = config.requested_clients
        if requested < max(connected, 1):
            kwargs["sample_count"] = max(requested, config.clients_required)
        job = TabularJob(
            name=name,
            dataset=check_dataset(config.dataset),
            rounds=rounds or config.rounds,
            min_clients=config.clients_required,
            shares=max(connected, 1),
            epochs=config.local_epochs,
            lr=config.learning_rate,
            task_timeout=config.round_timeout,
            sites=sites,
            initial_model=None if parent is None else self.models.file(parent),
            workflow_args={
                "aggregator": rule,
                "final_validation": config.validate_,
                **kwargs,
            },
        )
        with self.packages.site_app(package) as app:  # the package's script, if uploaded
            job.app = app
            return job.archive(self.state.config.max_job_bytes)

    # -- start and continue -----------------------------------------------------------------
    def start(self, who: Identity, req: SessionStart) -> SessionView:
        """Run a created session, or continue a finished one from its newest global model."""
        data = self._load(req.session_id)
        if data is None:
            if self._job(req.session_id) is not None:
                raise Conflict(
                    f"session {req.session_id} was not created over the edge API",
                    hint="Continue it by submitting a job; edge sessions are started here.",
                )
            raise NotFound(
                f"session {req.session_id!r} not found", details={"session_id": req.session_id}
            )
        runs: list[dict[str, Any]] = data["runs"]
        config = SessionConfig.model_validate(data["config"])
        if req.round_timeout is not None:
            config.round_timeout = req.round_timeout
        parent = data["seed_model_id"]
        if runs:
            last = self._job(runs[-1]["job_id"])
            if last is not None and last.status not in JOB_TERMINAL:
                raise Conflict(
                    f"session {req.session_id} is running ({last.status})",
                    hint="Continue it once its run has ended.",
                )
            trail = [m for m in self.models.all() if m.session_id == runs[-1]["job_id"]]
            parent = trail[-1].model_id if trail else parent
        job_id = req.session_id if not runs else f"{req.session_id}-{len(runs) + 1}"
        package = self.packages.active()
        archive = self._build(data["name"], config, parent, req.rounds, package)
        self.jobs.submit(who, archive, job_id=job_id)
        runs.append({"job_id": job_id, "parent_model": parent, "package_id": package.package_id})
        self._save(data)
        return self.get(req.session_id)

    async def stop(self, who: Identity, session_id: str | None) -> list[str]:
        """Abort the running run of ``session_id``, or of every running session when None
        (``control/stop``: the dialect's one current session); the jobs aborted. CONFLICT
        when none is running."""
        views = self.all() if session_id is None else [self.get(session_id)]
        running = [v.job_ids[-1] for v in views if v.status == "Started"]
        if not running:
            raise Conflict(
                "no session is running" if session_id is None else f"{session_id} is not running",
                hint="Start one with sessions/start.",
            )
        for job_id in running:
            await self.jobs.abort(job_id, reason=f"session stopped by {who.name} (control/stop)")
        return running

    # -- read -------------------------------------------------------------------------------
    def _view(self, data: dict[str, Any]) -> SessionView:
        runs = [r["job_id"] for r in data["runs"]]
        last = self._job(runs[-1]) if runs else None
        return SessionView(
            session_id=data["session_id"],
            name=data["name"],
            status=session_status(last),
            session_config=data["config"],
            seed_model_id=data["seed_model_id"],
            job_ids=runs,
            committed_at=iso(data["created"]),
            message=last.status_reason if last is not None else "",
        )

    def all(self) -> list[SessionView]:
        """Every session, oldest first: edge-created ones and every other job."""
        found: list[SessionView] = []
        claimed: set[str] = set()
        root = self.state.artifacts.path("edge/sessions")
        if root.is_dir():
            for entry in root.glob("*.json"):
                data = json.loads(entry.read_text())
                claimed |= {r["job_id"] for r in data["runs"]}
                found.append(self._view(data))
        for job in self.state.store.list_jobs(JobFilter()):
            if job.job_id in claimed or job.job_id.startswith(
                (PREDICTION_JOBS, VALIDATION_JOBS, COMMAND_JOBS)
            ):
                continue
            found.append(
                SessionView(
                    session_id=job.job_id,
                    name=job.name,
                    status=session_status(job),
                    session_config={"rounds": job.total_rounds},
                    seed_model_id=None,
                    job_ids=[job.job_id],
                    committed_at=iso(job.submit_time),
                    message=job.status_reason,
                )
            )
        return sorted(found, key=lambda s: s.committed_at)

    def get(self, session_id: str) -> SessionView:
        """One session; NOT_FOUND for an unknown id."""
        for view in self.all():
            if view.session_id == session_id:
                return view
        raise NotFound(f"session {session_id!r} not found", details={"session_id": session_id})

    def job_ids(self, session_id: str) -> list[str]:
        """The jobs (runs) of a session, oldest first."""
        return self.get(session_id).job_ids
