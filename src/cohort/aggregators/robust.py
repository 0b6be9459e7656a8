"""Byzantine-robust aggregation: coordinate-wise median, trimmed mean, Krum and multi-Krum.

Unlike :class:`~cohort.aggregators.weighted.WeightedMean`, these rules need every update of
the round at once (a median or a pairwise distance cannot be folded in as a running sum), so
:class:`RobustAggregator` holds all of a round's updates: memory is (updates x model size),
in the dtype the updates arrive in, plus float64 working copies of one tensor at a time.
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
    """Median of each coordinate over the updates (axis 0) (Yin et al., 2018). Reorders
    ``stack`` in place (no copy)."""
    # An in-place sort is several times faster than np.median's partition along axis 0.
    n = stack.shape[0]
    stack.sort(axis=0)
    if n % 2:
        return np.asarray(stack[n // 2])
    return np.asarray((stack[n // 2 - 1] + stack[n // 2]) / 2.0)


def trimmed_mean(stack: np.ndarray, trim_ratio: float) -> np.ndarray:
    """Per coordinate, drop the ``floor(trim_ratio * n)`` largest and as many smallest values,
    and average the rest (Yin et al., 2018). Sorts ``stack`` in place (no copy)."""
    n = stack.shape[0]
    k = int(np.floor(trim_ratio * n))
    if n - 2 * k < 1:
        raise InvalidRequest(f"trim_ratio {trim_ratio} leaves no update of {n} to average")
    stack.sort(axis=0)
    return np.asarray(stack[k : n - k].mean(axis=0))


def krum_scores(gram: np.ndarray, num_byzantine: int) -> np.ndarray:
    """Krum score of each update, from the updates' inner products ``gram`` (n x n): the sum
    of squared distances to its ``n - f - 2`` nearest other updates (Blanchard et al.,
    2017)."""
    n = gram.shape[0]
    neighbours = n - num_byzantine - 2
    if neighbours < 1:
        raise InvalidRequest(
            f"Krum with {num_byzantine} Byzantine site(s) needs at least {num_byzantine + 3} "
            f"updates, got {n}"
        )
    sq = np.diag(gram)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0)
    np.fill_diagonal(dist, np.inf)  # a point is not its own neighbour
    nearest = np.sort(dist, axis=1)[:, :neighbours]
    return np.asarray(nearest.sum(axis=1))


def krum_select(gram: np.ndarray, num_byzantine: int, m: int) -> list[int]:
    """Indices of the ``m`` updates with the lowest Krum scores (m=1 is Krum), lowest first;
    ties go to the earlier update."""
    scores = krum_scores(gram, num_byzantine)
    return [int(i) for i in np.argsort(scores, kind="stable")[: min(m, len(scores))]]


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
        """Keep one update, in the dtype it arrived in (float32 models: half the memory of
        float64 copies); every update must have the same tensors."""
        update = {name: np.asarray(array) for name, array in tensors}
        if not self.updates:
            self._dtypes = {name: array.dtype for name, array in update.items()}
        else:
            first = self.updates[0]
            if set(update) != set(first) or any(update[k].shape != first[k].shape for k in first):
                raise InvalidRequest(
                    "update's tensors differ from earlier updates",
                    code=ErrorCode.MODEL_VALIDATION_FAILED,
                )
        self.updates.append(update)

    def result(self) -> dict[str, np.ndarray]:
        """Combine the updates with the rule; each tensor in the dtype it arrived in.

        Work is done one tensor at a time in float64: beyond the kept updates, memory is a
        few copies of the largest tensor over all updates."""
        if not self.updates:
            raise InvalidRequest("no updates to aggregate")
        names = list(self.updates[0])
        out: dict[str, np.ndarray] = {}
        if self.rule in ("krum", "multi_krum"):
            m = 1 if self.rule == "krum" else (self.multi_krum_m or self._default_m())
            self.selected = krum_select(self._gram(names), self.num_byzantine, m)
            for k in names:
                total = np.zeros(self.updates[0][k].shape, dtype=np.float64)
                for i in self.selected:
                    total += self.updates[i][k]
                out[k] = total / len(self.selected)
        else:
            for k in names:
                stack = self._stack(k)
                if self.rule == "median":
                    out[k] = coordinate_median(stack)
                else:
                    out[k] = trimmed_mean(stack, self.trim_ratio)
        return {k: np.asarray(v).astype(self._dtypes[k]) for k, v in out.items()}

    def _stack(self, name: str) -> np.ndarray:
        """One tensor of every update, as a new float64 array (n, *shape), filled row by
        row so no second copy exists; the rules may then work in it in place."""
        stack = np.empty((len(self.updates), *self.updates[0][name].shape), dtype=np.float64)
        for i, update in enumerate(self.updates):
            stack[i] = update[name]
        return stack

    def _gram(self, names: list[str]) -> np.ndarray:
        """The updates' inner products (n x n), summed tensor by tensor: Krum's distances
        without a flattened copy of every update."""
        n = len(self.updates)
        gram = np.zeros((n, n))
        for k in names:
            block = self._stack(k).reshape(n, -1)
            gram += block @ block.T
        return gram

    def _default_m(self) -> int:
        # Blanchard et al.'s multi-Krum averages the n - f best-scored updates.
        return max(1, len(self.updates) - self.num_byzantine)
