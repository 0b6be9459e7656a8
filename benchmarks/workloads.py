"""The work itself, shared by every platform: model shapes, initial weights, training steps.

Copied next to each platform's app when a benchmark runs, so Cohort, Flower and NVIDIA FLARE
train exactly the same thing; only numpy is needed.
"""

from __future__ import annotations

import numpy as np

#: Parity: features per sample, samples per site, local gradient steps, learning rate.
PARITY_FEATURES = 20
PARITY_SAMPLES = 64
PARITY_STEPS = 5
PARITY_LR = 0.05


def layer_sizes(n_params: int) -> list[int]:
    """A model of ``n_params`` float32 parameters in three arrays, as a real model has layers."""
    return [n_params // 2, n_params // 4, n_params - n_params // 2 - n_params // 4]


def initial_params(n_params: int) -> list[np.ndarray]:
    """The initial global model of the overhead workloads: zeros."""
    return [np.zeros(size, dtype=np.float32) for size in layer_sizes(n_params)]


def overhead_step(params: list[np.ndarray]) -> list[np.ndarray]:
    """The 'training' of the overhead workloads: a few numpy operations per array."""
    return [p * np.float32(0.5) + np.float32(1.0) for p in params]


def site_index(name: str) -> int:
    """0-based index of a site named ``site-K`` (K from 1)."""
    return int(name.rsplit("-", 1)[1]) - 1


def parity_initial() -> list[np.ndarray]:
    """Initial weights of the parity model: a linear regression (weights, bias)."""
    rng = np.random.default_rng(0)
    return [
        rng.normal(0.0, 0.1, size=(PARITY_FEATURES, 1)).astype(np.float32),
        np.zeros(1, dtype=np.float32),
    ]


def parity_data(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Site ``index``'s data: a fixed linear target with noise, different on every site."""
    true_w = np.linspace(-1.0, 1.0, PARITY_FEATURES, dtype=np.float32).reshape(-1, 1)
    rng = np.random.default_rng(1000 + index)
    x = rng.normal(size=(PARITY_SAMPLES, PARITY_FEATURES)).astype(np.float32)
    y = (x @ true_w + 0.1 * rng.normal(size=(PARITY_SAMPLES, 1))).astype(np.float32)
    return x, y


def parity_train(params: list[np.ndarray], index: int) -> list[np.ndarray]:
    """``PARITY_STEPS`` steps of full-batch gradient descent on the mean squared error."""
    x, y = parity_data(index)
    w, b = params[0].astype(np.float32).copy(), params[1].astype(np.float32).copy()
    for _ in range(PARITY_STEPS):
        err = x @ w + b - y
        w -= np.float32(PARITY_LR) * (2.0 / len(x)) * (x.T @ err).astype(np.float32)
        b -= np.float32(PARITY_LR) * np.float32(2.0 * err.mean())
    return [w, b]
