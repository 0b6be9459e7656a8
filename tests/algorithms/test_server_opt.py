"""Server optimisers (FedAvgM, FedAdam, FedYogi, FedAdagrad) against the papers' update rules
written out in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from cohort.aggregators.server_opt import ServerOptimizer
from tests.algorithms.reference import reference


def trajectory(seed: int, steps: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(5)
    # Each round's averaged model lands somewhere near the current model.
    return x0, [rng.standard_normal(5) * 0.1 for _ in range(steps)]


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "yogi", "adagrad"])
def test_matches_the_update_rule(name: str) -> None:
    kw = {"server_lr": 0.3, "momentum": 0.8, "beta1": 0.85, "beta2": 0.95, "tau": 1e-2}
    x0, offsets = trajectory(1, 6)
    opt = ServerOptimizer(name, **kw)  # type: ignore[arg-type]
    x = {"w": x0.copy()}
    for off in offsets:
        x = opt.step(x, {"w": x["w"] + off})
    np.testing.assert_allclose(x["w"], reference(name, x0, offsets, **kw), rtol=1e-12)


def test_sgd_with_rate_one_and_zero_momentum_is_fedavg() -> None:
    x0, offsets = trajectory(2, 1)
    avg = {"w": x0 + offsets[0]}
    for opt in (ServerOptimizer("sgd"), ServerOptimizer("momentum", momentum=0.0)):
        np.testing.assert_allclose(opt.step({"w": x0}, avg)["w"], avg["w"], rtol=1e-15)


def test_keeps_dtype_and_state_per_tensor() -> None:
    opt = ServerOptimizer("adam", server_lr=0.1)
    x = {"a": np.zeros(3, np.float32), "b": np.ones((2, 2), np.float32)}
    out = opt.step(x, {"a": np.ones(3, np.float32), "b": np.zeros((2, 2), np.float32)})
    assert out["a"].dtype == np.float32 and out["b"].shape == (2, 2)
    assert np.all(out["a"] > 0) and np.all(out["b"] < 1)
    assert set(opt.m) == {"a", "b"}
