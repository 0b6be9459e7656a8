"""The running weighted mean (FedAvg's aggregation) against a direct numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort.aggregators import WeightedMean
from cohort.aggregators.weighted import weighted_metrics
from cohort.errors import CohortError, ErrorCode

SHAPES = {"conv": (4, 3, 3, 3), "dense": (16, 8), "bias": (8,), "scale": ()}


def random_updates(
    seed: int, n: int, shapes: dict[str, tuple[int, ...]] = SHAPES
) -> tuple[list[dict[str, np.ndarray]], list[float]]:
    rng = np.random.default_rng(seed)
    updates = [
        {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
        for _ in range(n)
    ]
    weights = [float(w) for w in rng.integers(1, 1000, size=n)]
    return updates, weights


def expected_mean(
    updates: list[dict[str, np.ndarray]], weights: list[float]
) -> dict[str, np.ndarray]:
    return {
        name: np.average(np.stack([u[name] for u in updates]), axis=0, weights=weights)
        for name in updates[0]
    }


def aggregate(
    updates: list[dict[str, np.ndarray]], weights: list[float], order: list[int] | None = None
) -> dict[str, np.ndarray]:
    agg = WeightedMean()
    for i in order if order is not None else range(len(updates)):
        agg.add(iter(updates[i].items()), weights[i])
    return agg.result()


def test_equals_numpy_weighted_average() -> None:
    updates, weights = random_updates(seed=1, n=7)
    result = aggregate(updates, weights)
    expected = expected_mean(updates, weights)
    assert set(result) == set(expected)
    for name, array in expected.items():
        assert result[name].shape == array.shape
        np.testing.assert_allclose(result[name], array, rtol=0, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
    shapes=st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=4),
        st.lists(st.integers(0, 5), max_size=3).map(tuple),
        min_size=1,
        max_size=4,
    ),
)
def test_any_arrival_order_gives_the_same_mean(
    seed: int, data: st.DataObject, shapes: dict[str, tuple[int, ...]]
) -> None:
    n = data.draw(st.integers(1, 8), label="updates")
    updates, weights = random_updates(seed, n, shapes)
    order = data.draw(st.permutations(list(range(n))), label="order")
    expected = expected_mean(updates, weights)
    in_order = aggregate(updates, weights)
    shuffled = aggregate(updates, weights, order)
    for name, array in expected.items():
        np.testing.assert_allclose(shuffled[name], array, rtol=0, atol=1e-6)
        np.testing.assert_allclose(shuffled[name], in_order[name], rtol=0, atol=1e-6)


def test_tensor_order_inside_an_update_does_not_matter() -> None:
    updates, weights = random_updates(seed=2, n=3)
    agg = WeightedMean()
    agg.add(iter(updates[0].items()), weights[0])
    agg.add(reversed(list(updates[1].items())), weights[1])
    agg.add(iter(sorted(updates[2].items())), weights[2])
    for name, array in expected_mean(updates, weights).items():
        np.testing.assert_allclose(agg.result()[name], array, rtol=0, atol=1e-6)


def test_single_update_is_returned_unchanged() -> None:
    updates, _ = random_updates(seed=3, n=1)
    result = aggregate(updates, [5.0])
    for name, array in updates[0].items():
        np.testing.assert_array_equal(result[name], array)


def test_zero_weight_updates_do_not_count() -> None:
    updates, _ = random_updates(seed=4, n=2)
    result = aggregate(updates, [3.0, 0.0])
    for name, array in updates[0].items():
        np.testing.assert_allclose(result[name], array, rtol=0, atol=1e-7)


def test_count_and_total_weight() -> None:
    updates, weights = random_updates(seed=5, n=4)
    agg = WeightedMean()
    for update, weight in zip(updates, weights, strict=True):
        agg.add(iter(update.items()), weight)
    assert agg.count == 4
    assert agg.total_weight == pytest.approx(sum(weights))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_is_preserved(dtype: type[np.floating]) -> None:
    a = {"w": np.array([1.0, 2.0], dtype=dtype), "b": np.array(0.5, dtype=dtype)}
    b = {"w": np.array([3.0, 4.0], dtype=dtype), "b": np.array(1.5, dtype=dtype)}
    result = aggregate([a, b], [1.0, 3.0])
    assert result["w"].dtype == dtype
    assert result["b"].dtype == dtype
    assert result["b"].shape == ()
    np.testing.assert_allclose(result["w"], [2.5, 3.5])
    np.testing.assert_allclose(result["b"], 1.25)


def test_mixed_dtypes_keep_each_tensors_own() -> None:
    a = {"half": np.ones(2, dtype=np.float16), "double": np.ones(2, dtype=np.float64)}
    result = aggregate([a, a], [1.0, 1.0])
    assert result["half"].dtype == np.float16
    assert result["double"].dtype == np.float64


def _expect_mismatch(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> None:
    agg = WeightedMean()
    agg.add(iter(first.items()), 1.0)
    with pytest.raises(CohortError) as info:
        agg.add(iter(second.items()), 1.0)
    assert info.value.code == ErrorCode.MODEL_VALIDATION_FAILED


def test_mismatched_shape_is_refused() -> None:
    _expect_mismatch({"w": np.zeros((2, 3))}, {"w": np.zeros((3, 2))})


def test_mismatched_rank_is_refused() -> None:
    _expect_mismatch({"w": np.zeros(3)}, {"w": np.zeros((3, 1))})


def test_extra_tensor_is_refused() -> None:
    _expect_mismatch({"w": np.zeros(2)}, {"w": np.zeros(2), "b": np.zeros(1)})


def test_missing_tensor_is_refused() -> None:
    _expect_mismatch({"w": np.zeros(2), "b": np.zeros(1)}, {"w": np.zeros(2)})


def test_renamed_tensor_is_refused() -> None:
    _expect_mismatch({"w": np.zeros(2)}, {"weight": np.zeros(2)})


def test_zero_total_weight_raises() -> None:
    agg = WeightedMean()
    agg.add(iter({"w": np.ones(2)}.items()), 0.0)
    with pytest.raises(CohortError) as info:
        agg.result()
    assert info.value.code == ErrorCode.INVALID_REQUEST


def test_no_updates_raises() -> None:
    with pytest.raises(CohortError):
        WeightedMean().result()


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_invalid_weight_raises(weight: float) -> None:
    with pytest.raises(CohortError) as info:
        WeightedMean().add(iter({"w": np.ones(2)}.items()), weight)
    assert info.value.code == ErrorCode.INVALID_REQUEST


# ------------------------------------------------------------------------------- metrics


def test_weighted_metrics() -> None:
    result = weighted_metrics(
        [
            ({"accuracy": 0.5, "loss": 1.0}, 1.0),
            ({"accuracy": 1.0, "loss": 0.0}, 3.0),
        ]
    )
    assert result == pytest.approx({"accuracy": 0.875, "loss": 0.25})


def test_weighted_metrics_over_the_results_that_report_each() -> None:
    result = weighted_metrics([({"accuracy": 0.5}, 2.0), ({"accuracy": 0.8, "auc": 0.9}, 1.0)])
    assert result == pytest.approx({"accuracy": 0.6, "auc": 0.9})


def test_weighted_metrics_skip_zero_weight_keys() -> None:
    assert weighted_metrics([({"a": 1.0}, 0.0), ({"b": 2.0}, 1.0)]) == {"b": 2.0}
    assert weighted_metrics([]) == {}


@pytest.mark.parametrize("shape", [(), (0,), (7,), (65_536,), (3, 65_537), (200_001,)])
def test_chunked_fold_is_bit_identical_to_the_whole_array_formula(shape: tuple[int, ...]) -> None:
    # Parity between the simulator and a real federation relies on exact bits, so the
    # cache-sized folding must compute each element as `sum += w * float64(x)` would.
    rng = np.random.default_rng(7)
    updates = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    weights = [0.37, 11.0, 1e-3]
    agg = WeightedMean()
    expected = np.zeros(shape, dtype=np.float64)
    for update, weight in zip(updates, weights, strict=True):
        agg.add([("w", update)], weight)
        expected += weight * update.astype(np.float64)
    mean = agg.result()["w"]
    assert np.array_equal(mean, (expected / sum(weights)).astype(np.float32))


def test_fold_takes_non_contiguous_and_integer_tensors() -> None:
    base = np.arange(40, dtype=np.int32).reshape(5, 8)
    agg = WeightedMean()
    agg.add([("w", base[:, ::2])], 1.0)  # a strided view
    agg.add([("w", base[:, 1::2])], 3.0)
    expected = (base[:, ::2] * 1.0 + base[:, 1::2] * 3.0) / 4.0
    assert np.array_equal(agg.result()["w"], expected.astype(np.int32))
