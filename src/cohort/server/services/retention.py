"""Retention of a job's global models: every round's, or the last N plus the best.

A job's FedAvg-family args set it (``keep_rounds``, ``best_metric``; see docs/reliability.md).
Pruning deletes model files only; the round's record (metrics, checksum) stays in the model
trail, and asking for a pruned round's model says so (:func:`pruned_error`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from cohort.errors import NotFound
from cohort.schemas.records import RoundRecord
from cohort.server.state import ServerState

__all__ = ["Retention", "best_round", "prune_models", "pruned_error"]


class Retention(BaseModel):
    """Which global models a job keeps."""

    keep_rounds: int | None = Field(
        default=None, ge=1, description="Keep the last N rounds' models; None keeps every one."
    )
    best_metric: str | None = Field(
        default="accuracy",
        description="The round with the highest value of this metric is kept too.",
    )


def best_round(rounds: list[RoundRecord], metric: str | None) -> int | None:
    """The round whose metrics hold the highest ``metric`` (the earliest on a tie)."""
    scored = [(r.metrics[metric], -r.round) for r in rounds if metric and metric in r.metrics]
    return -max(scored)[1] if scored else None


def prune_models(state: ServerState, job_id: str, retention: Retention) -> list[int]:
    """Delete the model files ``retention`` does not keep; return the rounds pruned now.

    The last ``keep_rounds`` rounds (so always the newest, which a resumed job starts from)
    and the best one stay.
    """
    if retention.keep_rounds is None:
        return []
    rounds = state.store.list_rounds(job_id)
    keep = {r.round for r in rounds[-retention.keep_rounds :]}
    best = best_round(rounds, retention.best_metric)
    if best is not None:
        keep.add(best)
    pruned = []
    for record in rounds:
        if record.round not in keep and state.artifacts.exists(record.model_path):
            state.artifacts.delete_prefix(record.model_path)
            pruned.append(record.round)
    return pruned


def pruned_error(record: RoundRecord) -> NotFound:
    """NOT_FOUND for a round whose model file the job's retention setting removed."""
    return NotFound(
        f"the global model of round {record.round} of job {record.job_id} was pruned by the "
        "job's keep_rounds setting",
        hint="Set keep_rounds higher (or leave it out to keep every round) in the job's "
        "server args.",
        details={"job_id": record.job_id, "round": record.round},
    )
