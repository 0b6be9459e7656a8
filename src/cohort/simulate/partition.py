"""Split one data set into per-site shares for simulations: IID, label skew, Dirichlet.

Each function returns one sorted array of row indices per site; the shares are disjoint, cover
every row, and depend only on the arguments (the same seed gives the same split on every
site, so each site can compute its own share without seeing the others)::

    from cohort.simulate.partition import dirichlet, site_index
    import cohort.client as flare

    shares = dirichlet(y, n_sites, alpha=0.5, seed=0)
    X_mine, y_mine = X[shares[site_index(flare.get_site_name())]], ...
"""

from __future__ import annotations

import numpy as np

__all__ = ["dirichlet", "iid", "label_skew", "site_index"]

_MAX_TRIES = 1000


def _check(n_sites: int, n_rows: int) -> None:
    if n_sites < 1:
        raise ValueError(f"n_sites must be at least 1, not {n_sites}")
    if n_rows < n_sites:
        raise ValueError(f"{n_rows} rows cannot give each of {n_sites} sites a share")


def site_index(site: str) -> int:
    """``site-3`` -> 2: the 0-based share of a site named ``<anything>-<n>`` (n from 1)."""
    try:
        number = int(site.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(
            f"cannot tell the share of site {site!r}: expected a name like site-3"
        ) from None
    if number < 1:
        raise ValueError(f"site numbers start at 1, not {number} ({site!r})")
    return number - 1


def iid(n_rows: int, n_sites: int, seed: int = 0) -> list[np.ndarray]:
    """Shuffle the rows and deal them out: shares differ in size by at most one row."""
    _check(n_sites, n_rows)
    order = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(part) for part in np.array_split(order, n_sites)]


def label_skew(
    labels: np.ndarray, n_sites: int, classes_per_site: int = 2, seed: int = 0
) -> list[np.ndarray]:
    """Pathological non-IID (McMahan et al., 2017): rows sorted by label are cut into
    ``n_sites * classes_per_site`` equal shards and each site gets ``classes_per_site`` of
    them. With classes that fill whole shards a site sees at most that many classes; a shard
    that straddles a class boundary adds one."""
    y = np.asarray(labels)
    if classes_per_site < 1:
        raise ValueError(f"classes_per_site must be at least 1, not {classes_per_site}")
    n_shards = n_sites * classes_per_site
    _check(n_sites, len(y))
    if len(y) < n_shards:
        raise ValueError(f"{len(y)} rows cannot be cut into {n_shards} shards")
    rng = np.random.default_rng(seed)
    # Shuffle first so rows of one class land in shards in random order, then sort stably.
    shuffled = rng.permutation(len(y))
    by_label = shuffled[np.argsort(y[shuffled], kind="stable")]
    shards = np.array_split(by_label, n_shards)
    deal = rng.permutation(n_shards).reshape(n_sites, classes_per_site)
    return [np.sort(np.concatenate([shards[s] for s in row])) for row in deal]


def dirichlet(
    labels: np.ndarray, n_sites: int, alpha: float = 0.5, seed: int = 0, min_rows: int = 1
) -> list[np.ndarray]:
    """Label-distribution skew (Hsu et al., 2019): each class's rows are split among the sites
    in proportions drawn from Dirichlet(``alpha``). Small ``alpha`` (0.1) gives each site few
    classes; large ``alpha`` (100) approaches IID. Draws again until every site has at least
    ``min_rows`` rows (ValueError after 1000 tries)."""
    y = np.asarray(labels)
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, not {alpha}")
    _check(n_sites, len(y))
    if min_rows * n_sites > len(y):
        raise ValueError(f"{len(y)} rows cannot give {n_sites} sites {min_rows} rows each")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    for _ in range(_MAX_TRIES):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_sites)]
        for cls in classes:
            rows = rng.permutation(np.flatnonzero(y == cls))
            cuts = (np.cumsum(rng.dirichlet(np.full(n_sites, alpha))) * len(rows)).astype(int)
            for site, chunk in enumerate(np.split(rows, cuts[:-1])):
                parts[site].append(chunk)
        shares = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(s) for s in shares) >= min_rows:
            return shares
    raise ValueError(
        f"no Dirichlet({alpha}) split in {_MAX_TRIES} draws gave every site {min_rows} rows; "
        "raise alpha or lower min_rows"
    )
