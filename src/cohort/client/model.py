"""FLModel: what a training script receives from and sends to the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["FLModel", "ParamsType"]


class ParamsType(StrEnum):
    """Whether ``params`` are full weights or a difference from the received model."""

    FULL = "FULL"
    DIFF = "DIFF"


@dataclass
class FLModel:
    """A model as exchanged with the server.

    Attributes:
        params: name -> array (numpy arrays; PyTorch tensors are accepted when sending).
        params_type: FULL weights or a DIFF against the model received.
        metrics: numbers describing the model. In a train result, by convention, they describe
            the model the site *received* (its evaluation before local training), so each
            round's global model gets a score; in a validate result, the model validated.
        meta: free-form JSON-able facts; ``num_samples`` weights this site in aggregation.
        current_round: the round this model belongs to (0 is the initial model).
        total_rounds: how many rounds the job runs.
    """

    params: dict[str, Any] = field(default_factory=dict)
    params_type: ParamsType = ParamsType.FULL
    metrics: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    current_round: int | None = None
    total_rounds: int | None = None
