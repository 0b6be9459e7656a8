"""Byzantine-robust aggregation: coordinate-wise median, trimmed mean, Krum and multi-Krum.

Unlike :class:`~cohort.aggregators.weighted.WeightedMean`, these rules need every update of
the round at once (a median or a pairwise distance cannot be folded in as a running sum), so
:class:`RobustAggregator` holds all of a round's updates: memory is (updates x model size).
They ignore ``num_samples`` weights on purpose: a weight is what a site claims, and an
attacker would claim a large one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

from cohort.errors import ErrorCode, InvalidRequest

__all__ = [
    "ROBUST_RULES",
    "RobustAggregator",
    "RobustRule",
    "coordinate_median",
    "krum_scores",
    "krum_select",
    "trimmed_mean",
]

RobustRule = Literal["median", "trimmed_mean", "krum", "multi_krum"]
ROBUST_RULES: tuple[RobustRule, ...] = ("median", "trimmed_mean", "krum", "multi_krum")


def coordinate_median(stack: np.ndarray) -> np.ndarray:
    """Median of each coordinate over the updates (axis 0) (Yin et al., 2018)."""
    return np.asarray(np.median(stack, axis=0))


def trimmed_mean(stack: np.ndarray, trim_ratio: float) -> np.ndarray:
    """Per coordinate, drop the ``floor(trim_ratio * n)`` largest and as many smallest values,
    and average the rest (Yin et al., 2018)."""
    n = stack.shape[0]
    k = int(np.floor(trim_ratio * n))
    if n - 2 * k < 1:
        raise InvalidRequest(f"trim_ratio {trim_ratio} leaves no update of {n} to average")
    ordered = np.sort(stack, axis=0)
    return np.asarray(ordered[k : n - k].mean(axis=0))


def krum_scores(flat: np.ndarray, num_byzantine: int) -> np.ndarray:
    """Krum score of each update (rows of ``flat``): the sum of squared distances to its
    ``n - f - 2`` nearest other updates (Blanchard et al., 2017)."""
    n = flat.shape[0]
    neighbours = n - num_byzantine - 2
    if neighbours < 1:
        raise InvalidRequest(
            f"Krum with {num_byzantine} Byzantine site(s) needs at least {num_byzantine + 3} "
            f"updates, got {n}"
        )
    sq = np.sum(flat * flat, axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0)
    np.fill_diagonal(dist, np.inf)  # a point is not its own neighbour
    nearest = np.sort(dist, axis=1)[:, :neighbours]
    return np.asarray(nearest.sum(axis=1))


def krum_select(flat: np.ndarray, num_byzantine: int, m: int) -> list[int]:
    """Indices of the ``m`` updates with the lowest Krum scores (m=1 is Krum), lowest first;
    ties go to the earlier update."""
    scores = krum_scores(flat, num_byzantine)
    return [int(i) for i in np.argsort(scores, kind="stable")[:m]]


class RobustAggregator:
    """Collects a round's updates, then combines them with one robust rule.

    Same interface as :class:`~cohort.aggregators.weighted.WeightedMean` (``add``,
    ``result``, ``count``); ``weight`` is accepted and ignored (see the module docstring).
    """

    def __init__(
        self,
        rule: RobustRule,
        *,
        trim_ratio: float = 0.1,
        num_byzantine: int = 1,
        multi_krum_m: int | None = None,
    ) -> None:
        if rule not in ROBUST_RULES:
            raise InvalidRequest(f"unknown robust rule {rule!r}; known: {', '.join(ROBUST_RULES)}")
        self.rule = rule
        self.trim_ratio = trim_ratio
        self.num_byzantine = num_byzantine
        self.multi_krum_m = multi_krum_m
        self.updates: list[dict[str, np.ndarray]] = []
        self._dtypes: dict[str, np.dtype[np.generic]] = {}
        self.selected: list[int] = []  # Krum's choice, for the log

    @property
    def count(self) -> int:
        """Updates added so far."""
        return len(self.updates)

    def add(self, tensors: Iterable[tuple[str, np.ndarray]], weight: float = 1.0) -> None:
        """Keep one update (float64 copies); every update must have the same tensors."""
        update: dict[str, np.ndarray] = {}
        dtypes: dict[str, np.dtype[np.generic]] = {}
        for name, array in tensors:
            dtypes[name] = np.asarray(array).dtype
            update[name] = np.array(array, dtype=np.float64)
        if not self.updates:
            self._dtypes = dtypes
        else:
            first = self.updates[0]
            if set(update) != set(first) or any(update[k].shape != first[k].shape for k in first):
                raise InvalidRequest(
                    "update's tensors differ from earlier updates",
                    code=ErrorCode.MODEL_VALIDATION_FAILED,
                )
        self.updates.append(update)

    def result(self) -> dict[str, np.ndarray]:
        """Combine the updates with the rule; each tensor in the dtype it arrived in."""
        if not self.updates:
            raise InvalidRequest("no updates to aggregate")
        names = list(self.updates[0])
        if self.rule in ("krum", "multi_krum"):
            m = 1 if self.rule == "krum" else (self.multi_krum_m or self._default_m())
            flat = np.stack([np.concatenate([u[k].ravel() for k in names]) for u in self.updates])
            self.selected = krum_select(flat, self.num_byzantine, min(m, len(self.updates)))
            chosen = [self.updates[i] for i in self.selected]
            out = {k: np.mean([u[k] for u in chosen], axis=0) for k in names}
        else:
            out = {}
            for k in names:
                stack = np.stack([u[k] for u in self.updates])
                if self.rule == "median":
                    out[k] = coordinate_median(stack)
                else:
                    out[k] = trimmed_mean(stack, self.trim_ratio)
        return {k: np.asarray(v).astype(self._dtypes[k]) for k, v in out.items()}

    def _default_m(self) -> int:
        # Blanchard et al.'s multi-Krum averages the n - f best-scored updates.
        return max(1, len(self.updates) - self.num_byzantine)
