"""Data partitioning helpers: disjoint, complete, deterministic, and skewed as documented."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cohort.simulate.partition import dirichlet, iid, label_skew, site_index

LABELS = load_digits().target  # 1,797 rows, 10 classes


def _check_partition(shares: list[np.ndarray], n_rows: int, n_sites: int) -> None:
    assert len(shares) == n_sites
    joined = np.concatenate(shares)
    assert len(joined) == n_rows and set(joined.tolist()) == set(range(n_rows))
    assert all(np.all(np.diff(s) > 0) for s in shares)  # sorted, no repeats


def test_iid_deals_rows_evenly() -> None:
    shares = iid(1797, 7, seed=3)
    _check_partition(shares, 1797, 7)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(shares, iid(1797, 7, seed=3), strict=True))
    assert not np.array_equal(shares[0], iid(1797, 7, seed=4)[0])


@pytest.mark.parametrize("classes_per_site", [1, 2, 3])
def test_label_skew_limits_the_classes_of_each_site(classes_per_site: int) -> None:
    balanced = np.repeat(np.arange(10), 60)  # classes fill whole shards: the exact bound holds
    shares = label_skew(balanced, 10, classes_per_site, seed=0)
    _check_partition(shares, len(balanced), 10)
    assert all(len(np.unique(balanced[s])) <= classes_per_site for s in shares)
    shares = label_skew(LABELS, 10, classes_per_site, seed=0)  # uneven classes: about that
    _check_partition(shares, len(LABELS), 10)
    assert np.mean([len(np.unique(LABELS[s])) for s in shares]) <= classes_per_site + 1


def test_dirichlet_skew_follows_alpha() -> None:
    def skew(alpha: float) -> float:  # mean total-variation distance from the global mix
        shares = dirichlet(LABELS, 8, alpha=alpha, seed=1)
        _check_partition(shares, len(LABELS), 8)
        overall = np.bincount(LABELS, minlength=10) / len(LABELS)
        mixes = [np.bincount(LABELS[s], minlength=10) / len(s) for s in shares]
        return float(np.mean([0.5 * np.abs(m - overall).sum() for m in mixes]))

    assert skew(0.1) > 0.5 > 0.1 > skew(100.0)


def test_dirichlet_is_deterministic_and_respects_min_rows() -> None:
    a = dirichlet(LABELS, 20, alpha=0.3, seed=7, min_rows=30)
    b = dirichlet(LABELS, 20, alpha=0.3, seed=7, min_rows=30)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert min(map(len, a)) >= 30


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        iid(3, 4)
    with pytest.raises(ValueError):
        iid(3, 0)
    with pytest.raises(ValueError):
        label_skew(LABELS[:10], 6, 2)
    with pytest.raises(ValueError):
        dirichlet(LABELS, 4, alpha=0.0)
    with pytest.raises(ValueError):
        dirichlet(LABELS, 100, min_rows=100)


def test_site_index() -> None:
    assert site_index("site-1") == 0 and site_index("hospital-12") == 11
    for bad in ("site", "site-x", "site-0"):
        with pytest.raises(ValueError):
            site_index(bad)
