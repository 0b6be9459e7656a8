"""The machine-learning part of examples/hello-numpy: data split, model, reference FedAvg."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

LIB_PATH = (
    Path(__file__).resolve().parents[2] / "examples/hello-numpy/job/app/custom/hello_numpy_lib.py"
)


def _load_lib() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hello_numpy_lib", LIB_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lib = _load_lib()
N_ROWS = 569  # load_breast_cancer()


@pytest.mark.parametrize("n_sites", [2, 3, 5])
def test_split_is_deterministic_disjoint_and_complete(n_sites: int) -> None:
    sites, test = lib.split_indices(n_sites, seed=0)
    again, test_again = lib.split_indices(n_sites, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(sites, again, strict=True))
    assert np.array_equal(test, test_again)

    train = np.concatenate(sites)
    assert len(np.unique(train)) == len(train), "sites overlap"
    assert not np.intersect1d(train, test).size, "test rows leak into training"
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(N_ROWS))
    assert len(test) == round(0.2 * N_ROWS)
    # The test set does not depend on how many sites share the rest.
    assert np.array_equal(test, lib.split_indices(1, seed=0)[1])


def test_other_seed_gives_other_split() -> None:
    a, _ = lib.split_indices(3, seed=0)
    b, _ = lib.split_indices(3, seed=1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_load_split_matches_indices_and_types() -> None:
    n_sites = 3
    X_all, y_all = lib.load_all_train(seed=0)
    sizes = []
    for k in range(n_sites):
        X, y = lib.load_split(k, n_sites, seed=0)
        assert X.dtype == np.float32 and X.shape == (len(y), 30)
        assert set(np.unique(y)) <= {0, 1}
        sizes.append(len(y))
    assert sum(sizes) == len(y_all) == X_all.shape[0]
    _, y_test = lib.load_test(seed=0)
    assert len(y_test) + len(y_all) == N_ROWS
    with pytest.raises(ValueError):
        lib.load_split(3, 3)


@pytest.mark.parametrize("n_sites", [2, 3, 5])
def test_split_is_label_skewed_with_both_classes(n_sites: int) -> None:
    labels = [lib.load_split(k, n_sites, seed=0)[1] for k in range(n_sites)]
    for y in labels:
        counts = np.bincount(y, minlength=2)
        assert counts.min() >= lib.MIN_PER_CLASS, counts
    ratios = [float(y.mean()) for y in labels]
    assert max(ratios) - min(ratios) > 0.15, ratios


def test_init_params_shapes_and_dtypes() -> None:
    params = lib.init_params(30, seed=0)
    assert set(params) == {"w", "b"}
    assert params["w"].shape == (30,) and params["w"].dtype == np.float32
    assert params["b"].shape == (1,) and params["b"].dtype == np.float32
    assert np.array_equal(params["w"], lib.init_params(30, seed=0)["w"])


def test_train_reduces_loss_and_returns_float32() -> None:
    X, y = lib.load_split(1, 3, seed=0)
    params = lib.init_params(X.shape[1])
    before = lib.evaluate(params, X, y)
    trained = lib.train(params, X, y, epochs=lib.EPOCHS, lr=lib.LR)
    after = lib.evaluate(trained, X, y)
    assert after["loss"] < before["loss"]
    assert after["accuracy"] > before["accuracy"]
    assert trained["w"].dtype == np.float32 and trained["b"].dtype == np.float32
    assert trained["w"].shape == params["w"].shape and trained["b"].shape == (1,)
    # Training does not modify its input.
    assert np.array_equal(params["w"], lib.init_params(X.shape[1])["w"])


def test_evaluate_known_values() -> None:
    X = np.array([[1.0], [-1.0], [2.0], [-2.0]], dtype=np.float32)
    y = np.array([1, 0, 0, 0])
    params = {"w": np.array([1.0], dtype=np.float32), "b": np.zeros(1, dtype=np.float32)}
    result = lib.evaluate(params, X, y)
    assert result["accuracy"] == pytest.approx(0.75)  # x = 2 is misclassified
    z = np.array([1.0, -1.0, 2.0, -2.0])
    expected = np.mean(np.log1p(np.exp(-np.where(y == 1, z, -z))))
    assert result["loss"] == pytest.approx(expected)


def test_fedavg_is_sample_weighted_mean() -> None:
    rng = np.random.default_rng(7)
    updates = [
        ({"w": rng.standard_normal(30).astype(np.float32), "b": rng.standard_normal(1)}, n)
        for n in (193, 133, 129)
    ]
    result = lib.fedavg(updates)
    weights = np.array([n for _, n in updates], dtype=np.float64)
    for name in ("w", "b"):
        stacked = np.stack([p[name] for p, _ in updates]).astype(np.float64)
        expected = (weights[:, None] * stacked).sum(axis=0) / weights.sum()
        np.testing.assert_allclose(result[name], expected, rtol=1e-6)
        assert result[name].dtype == np.float32
    with pytest.raises(ValueError):
        lib.fedavg([(updates[0][0], 0)])


def test_simulated_fedavg_reaches_target_accuracy() -> None:
    accuracies = lib.simulate_fedavg(3, 5)
    assert len(accuracies) == 5
    assert accuracies[-1] >= 0.95, accuracies
    assert lib.simulate_fedavg(3, 5) == accuracies  # deterministic


def test_central_baseline_reaches_target_accuracy() -> None:
    assert lib.central_baseline() >= 0.95


def test_more_sites_than_shares_repeat_the_shares() -> None:
    assert lib.share_of(2, 3) == (2, 3)
    assert lib.share_of(99, 1000) == (99, 100)
    assert lib.share_of(100, 1000) == (0, 100)  # site-101 trains on site-1's share
    share, n_shares = lib.share_of(999, 1000)
    y = lib.load_split(share, n_shares)[1]
    assert set(np.unique(y)) == {0, 1}  # every one of the 100 shares has both classes
