"""The live events of ``/ws/events`` (seed 003), built from what the services just stored and
published on the server's :class:`~cohort.server.notify.EventHub`.

In one FedAvg round ``r`` they come in this order: ``training_progress`` (round ``r`` starts),
one ``client_update`` per site result (``training_completed``) or failure (``failed``), then
``round_completed`` once round ``r``'s global model is stored. After the last round come
``training_progress`` (validating), the sites' ``client_update`` (``validation_completed``), and
a last ``training_progress`` with the job's final status and progress 1.0.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cohort.schemas.records import JobRecord, RoundRecord, TaskRecord
from cohort.server.state import ServerState
from cohort.states import JobStatus

__all__ = [
    "iso",
    "publish_client_failed",
    "publish_client_update",
    "publish_round_completed",
    "publish_training_progress",
]


def iso(seconds: float | None = None) -> str:
    """POSIX seconds (now when None) as ISO 8601 UTC with a Z."""
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def progress_of(job: JobRecord) -> float:
    """Fraction of rounds done: 1.0 once the job finished OK."""
    if job.status == JobStatus.FINISHED_OK:
        return 1.0
    if not job.total_rounds or job.current_round is None:
        return 0.0
    done = max(job.current_round - 1, 0)  # current_round is the round in progress
    return round(min(done / job.total_rounds, 1.0), 4)


def _round_metrics(state: ServerState, job_id: str, rnd: int) -> dict[str, float]:
    for record in state.store.list_rounds(job_id):
        if record.round == rnd:
            return dict(record.metrics)
    return {}


def publish_training_progress(state: ServerState, job: JobRecord) -> None:
    """Where a job stands: its round, progress and the latest global metrics known."""
    rnd = job.current_round or 0
    state.events.publish(
        {
            "type": "training_progress",
            "experiment_id": job.job_id,
            "round": rnd,
            "progress": progress_of(job),
            "status": str(job.status),
            "metrics": _round_metrics(state, job.job_id, max(rnd - 1, 0)),
            "timestamp": iso(),
        }
    )


def publish_client_update(
    state: ServerState, task: TaskRecord, metrics: dict[str, float], duplicate: bool
) -> None:
    """A site's result for a task was stored (not repeated for a duplicate upload)."""
    if duplicate:
        return
    state.events.publish(
        {
            "type": "client_update",
            "experiment_id": task.job_id,
            "client_id": task.site,
            "status": "training_completed" if task.name == "train" else f"{task.name}_completed",
            "round": task.round,
            "metrics": metrics,
            "timestamp": iso(),
        }
    )


def publish_client_failed(state: ServerState, job_id: str, site: str, kind: str) -> None:
    """A site failed (its script died) or was lost (heartbeats stopped) during a job."""
    job = state.store.get_job(job_id)
    state.events.publish(
        {
            "type": "client_update",
            "experiment_id": job_id,
            "client_id": site,
            "status": "failed" if kind == "failed" else "lost",
            "round": job.current_round or 0,
            "metrics": {},
            "timestamp": iso(),
        }
    )


def publish_round_completed(state: ServerState, record: RoundRecord) -> None:
    """Round ``r``'s global model is stored. ``global_metrics`` are the sites' evaluation of
    the model they trained from (round ``r-1``'s), sent with their round-``r`` updates."""
    if record.round == 0:  # the initial model is no training round
        return
    trail = {r.round: r for r in state.store.list_rounds(record.job_id)}
    previous = trail.get(record.round - 1)
    state.events.publish(
        {
            "type": "round_completed",
            "experiment_id": record.job_id,
            "round": record.round,
            "global_metrics": dict(previous.metrics) if previous else {},
            "participating_clients": record.num_updates,
            "round_duration": None if previous is None else record.created - previous.created,
            "timestamp": iso(record.created),
        }
    )
