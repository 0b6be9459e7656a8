"""What sessions produced, as the edge API shows it: rounds, validations and statuses.

* A round is a stored global model of a run (round 0 is the starting model).
* A validation is a site's evaluation of a global model: the metrics a site sent with a train
  update score the model it received; a ``validate`` task's metrics score the final model,
  or the model of a validation run (``validations/start``).
* A status is an event: each task of a site (sender role ``client``) and each run's state
  (sender role ``combiner``), plus statuses added over the API.
"""

from __future__ import annotations

import json
import uuid

from cohort.errors import NotFound
from cohort.schemas.edge import AddStatus, RoundView, Sender, StatusEntry, Validation
from cohort.schemas.records import JobRecord
from cohort.server.services.edge_network import COMBINER
from cohort.server.services.edge_records import RecordLog
from cohort.server.services.events import iso
from cohort.server.services.models import model_id
from cohort.server.services.predictions import VALIDATION_RUNS
from cohort.server.state import ServerState
from cohort.states import TaskStatus
from cohort.store import JobFilter

__all__ = ["EdgeResultService"]

_TASK_TYPE = {"train": "MODEL_UPDATE", "validate": "MODEL_VALIDATION"}


class EdgeResultService:
    """Rounds, validations and statuses of every job."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.status_log = RecordLog(state, "statuses")

    def _jobs(self, job_ids: list[str] | None) -> list[JobRecord]:
        jobs = self.state.store.list_jobs(JobFilter())
        return [j for j in jobs if job_ids is None or j.job_id in job_ids]

    def rounds(self, job_ids: list[str] | None = None) -> list[RoundView]:
        """Every round of the given jobs (all when None), oldest first."""
        found: list[RoundView] = []
        for job in self._jobs(job_ids):
            for rec in self.state.store.list_rounds(job.job_id):
                found.append(
                    RoundView(
                        round_id=f"{job.job_id}:{rec.round}",
                        session_id=job.job_id,
                        round=rec.round,
                        status="Success",
                        model_id=model_id(job.job_id, rec.round),
                        round_config={"rounds": job.total_rounds},
                        round_data={
                            "num_updates": rec.num_updates,
                            "num_samples": rec.num_samples,
                            "metrics": rec.metrics,
                            "committed_at": iso(rec.created),
                        },
                    )
                )
        return found

    def round(self, round_id: str) -> RoundView:
        """One round (``<job id>:<round>``); NOT_FOUND for an unknown id."""
        job_id = round_id.rpartition(":")[0]
        for found in self.rounds([job_id] if job_id else []):
            if found.round_id == round_id:
                return found
        raise NotFound(f"round {round_id!r} not found", details={"round_id": round_id})

    def _validation_runs(self) -> dict[str, dict[str, str]]:
        """job id -> the descriptor of a validation run (``validations/start``)."""
        root = self.state.artifacts.path(VALIDATION_RUNS)
        runs = [json.loads(p.read_text()) for p in root.glob("*.json")] if root.is_dir() else []
        return {r["job_id"]: r for r in runs}

    def validations(self, job_ids: list[str] | None = None) -> list[Validation]:
        """Every site evaluation of a global model, oldest first: in the given jobs (all when
        None), and in the validation runs of those jobs' sessions."""
        found: list[Validation] = []
        runs = self._validation_runs()
        for job in self.state.store.list_jobs(JobFilter()):
            run = runs.get(job.job_id)
            session = run["session_id"] if run is not None else job.job_id
            if job_ids is not None and job.job_id not in job_ids and session not in job_ids:
                continue
            models = {
                r.model_path: model_id(job.job_id, r.round)
                for r in self.state.store.list_rounds(job.job_id)
            }
            tasks = {t.task_id: t for t in self.state.store.list_tasks(job.job_id)}
            for u in self.state.store.list_updates(job.job_id):
                task = tasks.get(u.task_id)
                scores = {k: v for k, v in u.metrics.items() if k in ("accuracy", "loss")}
                if task is None or task.name not in _TASK_TYPE or not scores:
                    continue
                found.append(
                    Validation(
                        id=u.task_id,
                        model_id=run["model_id"] if run else models.get(task.model_path),
                        session_id=session,
                        correlation_id=u.task_id,
                        data=scores,
                        sender=Sender(name=u.site, role="client", client_id=u.site),
                        timestamp=iso(u.received),
                    )
                )
        return sorted(found, key=lambda v: v.timestamp)

    def statuses(self, job_ids: list[str] | None = None) -> list[StatusEntry]:
        """Every event, oldest first: tasks, run states and added statuses."""
        found: list[StatusEntry] = []
        for job in self._jobs(job_ids):
            combiner = Sender(name=COMBINER, role="combiner", combiner_id=COMBINER)
            found.append(
                StatusEntry(
                    id=f"{job.job_id}:job",
                    status=f"job {job.name} is {job.status}",
                    type="SESSION",
                    log_level="ERROR" if job.site_errors else "INFO",
                    session_id=job.job_id,
                    sender=combiner,
                    data=job.status_reason or None,
                    timestamp=iso(job.end_time or job.start_time or job.submit_time),
                )
            )
            for task in self.state.store.list_tasks(job.job_id):
                bad = task.status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
                found.append(
                    StatusEntry(
                        id=task.task_id,
                        status=f"{task.name} of round {task.round}: {task.status}",
                        type=_TASK_TYPE.get(task.name, task.name.upper()),
                        log_level="ERROR" if bad else "INFO",
                        session_id=job.job_id,
                        correlation_id=task.task_id,
                        sender=Sender(name=task.site, role="client", client_id=task.site),
                        timestamp=iso(task.created),
                    )
                )
        added = [StatusEntry.model_validate(r) for r in self.status_log.all()]
        if job_ids is not None:
            added = [s for s in added if s.session_id in job_ids]
        return sorted(found + added, key=lambda s: s.timestamp)

    def add_status(self, req: AddStatus) -> StatusEntry:
        """Record a status sent over the API."""
        entry = StatusEntry(
            id=uuid.uuid4().hex, timestamp=iso(self.state.clock()), **req.model_dump()
        )
        self.status_log.append(entry.model_dump(mode="json"))
        return entry
