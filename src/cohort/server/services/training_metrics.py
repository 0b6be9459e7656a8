"""Training metrics over the REST API: per round of an experiment, and per client.

Round ``r``'s ``client_metrics`` are what each site sent with its round-``r`` update (its
evaluation of the model it received, plus its own figures); ``global_accuracy`` and
``global_loss`` are the sites' weighted evaluation of round ``r``'s global model, known once
the next round (or the final validation) ran.
"""

from __future__ import annotations

from typing import Any

from cohort.schemas.records import JobRecord
from cohort.schemas.rest import ClientPerformance, RoundEntry, TrainingMetrics
from cohort.server.state import ServerState
from cohort.store import JobFilter

__all__ = ["client_performance", "training_metrics"]


def training_metrics(
    state: ServerState,
    job: JobRecord,
    from_round: int | None = None,
    to_round: int | None = None,
    client_id: str | None = None,
) -> TrainingMetrics:
    """Every round (1..) of ``job`` within the bounds, with its clients' metrics."""
    store = state.store
    trail = {r.round: r for r in store.list_rounds(job.job_id)}
    train = {t.task_id for t in store.list_tasks(job.job_id) if t.name == "train"}
    updates = [
        u
        for u in store.list_updates(job.job_id)
        if client_id in (None, u.site) and u.task_id in train
    ]
    entries: list[RoundEntry] = []
    for rnd in sorted(trail):
        if rnd == 0 or (from_round is not None and rnd < from_round):
            continue
        if to_round is not None and rnd > to_round:
            continue
        record, previous = trail[rnd], trail.get(rnd - 1)
        clients = {
            u.site: {**u.metrics, "data_samples": float(u.num_samples)}
            for u in updates
            if u.round == rnd
        }
        entries.append(
            RoundEntry(
                round=rnd,
                global_accuracy=record.metrics.get("accuracy"),
                global_loss=record.metrics.get("loss"),
                participating_clients=record.num_updates,
                round_duration=None if previous is None else record.created - previous.created,
                aggregation_time=None,
                client_metrics=clients,
            )
        )
    accuracies = [e.global_accuracy for e in entries if e.global_accuracy is not None]
    durations = [e.round_duration for e in entries if e.round_duration is not None]
    losses = [e.global_loss for e in entries if e.global_loss is not None]
    summary: dict[str, float | int | None] = {
        "total_rounds": len(entries),
        "best_accuracy": max(accuracies) if accuracies else None,
        # mean drop of the global loss per round: how fast training converges
        "convergence_rate": (losses[0] - losses[-1]) / (len(losses) - 1)
        if len(losses) > 1
        else None,
        "avg_round_duration": sum(durations) / len(durations) if durations else None,
    }
    return TrainingMetrics(experiment_id=job.job_id, rounds=entries, summary=summary)


def client_performance(
    state: ServerState, client_id: str, trust: float, contribution: float
) -> ClientPerformance:
    """The client's train updates over the newest jobs, oldest first, with statistics."""
    store = state.store
    history: list[dict[str, Any]] = []
    for job in store.list_jobs(JobFilter(limit=50, reverse=True)):
        train = {t.task_id for t in store.list_tasks(job.job_id) if t.name == "train"}
        for u in store.list_updates(job.job_id):
            if u.site == client_id and u.task_id in train:
                entry: dict[str, Any] = {
                    "experiment_id": job.job_id,
                    "round": u.round,
                    "data_samples": u.num_samples,
                    "received_at": u.received,
                }
                if "accuracy" in u.metrics:
                    entry["local_accuracy"] = u.metrics["accuracy"]
                entry.update({k: v for k, v in u.metrics.items() if k not in entry})
                history.append(entry)
    history.sort(key=lambda e: e["received_at"])
    accuracies = [e["local_accuracy"] for e in history if "local_accuracy" in e]
    statistics: dict[str, float | int | None] = {
        "avg_accuracy": sum(accuracies) / len(accuracies) if accuracies else None,
        "avg_training_time": None,  # sites do not report their training time
        "total_rounds_participated": len(history),
        "reliability_score": trust,
        "contribution_score": contribution,
    }
    return ClientPerformance(
        client_id=client_id, performance_history=history, statistics=statistics
    )
