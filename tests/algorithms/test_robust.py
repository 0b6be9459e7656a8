"""Robust aggregation rules against direct numpy computations of the same rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cohort.aggregators.robust import RobustAggregator, krum_scores
from cohort.errors import CohortError, ErrorCode

SHAPES = {"w": (3, 4), "b": (4,), "s": ()}


def updates(seed: int, n: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {k: rng.standard_normal(shape).astype(np.float32) for k, shape in SHAPES.items()}
        for _ in range(n)
    ]


def run(rule: str, ups: list[dict[str, np.ndarray]], **kw: float) -> RobustAggregator:
    agg = RobustAggregator(rule, **kw)  # type: ignore[arg-type]
    for i, u in enumerate(ups):
        agg.add(iter(u.items()), weight=1000.0 * (i + 1))  # weights must not matter
    return agg


def test_median_is_numpy_median_per_coordinate() -> None:
    ups = updates(1, 7)
    out = run("median", ups).result()
    for k in SHAPES:
        expected = np.median(np.stack([u[k] for u in ups]).astype(np.float64), axis=0)
        assert out[k].dtype == np.float32 and out[k].shape == SHAPES[k]
        np.testing.assert_allclose(out[k], expected, rtol=0, atol=1e-7)


def test_median_ignores_one_huge_outlier() -> None:
    ups = updates(2, 5)
    ups[3] = {k: np.full(SHAPES[k], 1e9, np.float32) for k in SHAPES}
    out = run("median", ups).result()
    assert all(np.abs(v).max() < 10 for v in out.values())


@pytest.mark.parametrize(("n", "ratio"), [(10, 0.2), (7, 0.15), (5, 0.0), (9, 0.45)])
def test_trimmed_mean_drops_k_from_each_end(n: int, ratio: float) -> None:
    ups = updates(3, n)
    out = run("trimmed_mean", ups, trim_ratio=ratio).result()
    k = int(np.floor(ratio * n))
    for name in SHAPES:
        stack = np.stack([u[name] for u in ups]).astype(np.float64)
        flat = stack.reshape(n, -1)
        expected = np.empty(flat.shape[1])
        for j in range(flat.shape[1]):  # coordinate by coordinate, the slow way
            column = sorted(flat[:, j])
            expected[j] = np.mean(column[k : n - k])
        np.testing.assert_allclose(out[name].reshape(-1), expected, rtol=0, atol=1e-6)


def brute_krum_scores(flat: np.ndarray, f: int) -> list[float]:
    n = len(flat)
    scores = []
    for i in range(n):
        dists = sorted(float(np.sum((flat[i] - flat[j]) ** 2)) for j in range(n) if j != i)
        scores.append(sum(dists[: n - f - 2]))
    return scores


def flatten(ups: list[dict[str, np.ndarray]]) -> np.ndarray:
    return np.stack(
        [np.concatenate([u[k].astype(np.float64).ravel() for k in SHAPES]) for u in ups]
    )


def test_krum_scores_match_brute_force() -> None:
    flat = flatten(updates(4, 8))
    np.testing.assert_allclose(krum_scores(flat @ flat.T, 2), brute_krum_scores(flat, 2), rtol=1e-9)


def test_krum_picks_the_lowest_scored_update_and_drops_attackers() -> None:
    ups = updates(5, 7)
    ups[0] = {k: v + 50 for k, v in ups[0].items()}  # two colluding attackers
    ups[1] = {k: v + 50 for k, v in ups[1].items()}
    agg = run("krum", ups, num_byzantine=2)
    out = agg.result()
    best = int(np.argmin(brute_krum_scores(flatten(ups), 2)))
    assert agg.selected == [best] and best not in (0, 1)
    for k in SHAPES:
        np.testing.assert_array_equal(out[k], ups[best][k])


def test_multi_krum_averages_the_m_best() -> None:
    ups = updates(6, 9)
    ups[4] = {k: v * 100 for k, v in ups[4].items()}
    agg = run("multi_krum", ups, num_byzantine=1, multi_krum_m=4)
    out = agg.result()
    order = np.argsort(brute_krum_scores(flatten(ups), 1), kind="stable")[:4]
    assert sorted(agg.selected) == sorted(int(i) for i in order) and 4 not in agg.selected
    for k in SHAPES:
        expected = np.mean([ups[i][k].astype(np.float64) for i in order], axis=0)
        np.testing.assert_allclose(out[k], expected, rtol=0, atol=1e-6)


def test_multi_krum_default_m_is_n_minus_f() -> None:
    agg = run("multi_krum", updates(7, 6), num_byzantine=2)
    agg.result()
    assert len(agg.selected) == 4


def test_krum_needs_f_plus_3_updates() -> None:
    with pytest.raises(CohortError, match="at least 4 updates"):
        run("krum", updates(8, 3), num_byzantine=1).result()


def test_mismatched_update_is_refused() -> None:
    agg = run("median", updates(9, 2))
    bad = {"w": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32), "s": np.zeros(())}
    with pytest.raises(CohortError) as err:
        agg.add(iter(bad.items()))
    assert err.value.code == ErrorCode.MODEL_VALIDATION_FAILED


def test_result_is_independent_of_arrival_order_for_coordinate_rules() -> None:
    ups = updates(10, 6)
    for rule in ("median", "trimmed_mean"):
        first = run(rule, ups, trim_ratio=0.2).result()
        for perm in itertools.islice(itertools.permutations(range(6)), 5, 30, 7):
            again = run(rule, [ups[i] for i in perm], trim_ratio=0.2).result()
            assert all(np.array_equal(first[k], again[k]) for k in SHAPES)
