"""Client sampling: which sites a round's tasks go to (a seeded fraction or count)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sample_sites"]


def sample_sites(
    sites: list[str],
    round: int,
    *,
    fraction: float | None,
    count: int | None,
    seed: int,
    minimum: int = 1,
) -> list[str]:
    """Return the sites of round ``round``, sorted: all of them when neither ``fraction`` nor
    ``count`` is set, else ``count`` (or ``ceil(fraction * n)``) of them, never fewer than
    ``minimum`` nor more than ``n``, drawn without replacement.

    The draw depends only on ``(seed, round)`` and the site list, so a simulation and a real
    run of the same job sample the same sites, and a resumed round draws the same again.
    """
    n = len(sites)
    if fraction is None and count is None:
        return sorted(sites)
    k = count if count is not None else math.ceil((fraction or 0.0) * n)
    k = min(max(k, minimum, 1), n)
    rng = np.random.default_rng([seed, round])
    ordered = sorted(sites)  # independent of the order the server listed them in
    chosen = rng.choice(n, size=k, replace=False)
    return sorted(ordered[int(i)] for i in chosen)
