"""Server optimisers: how the round's averaged model moves the global model.

Each round the workflow averages the sites' models into ``avg``; the pseudo-gradient is
``delta = avg - x`` (``x`` the global model the sites started from). Plain FedAvg takes
``x + server_lr * delta`` (``server_lr`` 1 gives ``avg`` itself). The others keep state of
the size of the model, in float64, across rounds:

- FedAvgM (Hsu et al., 2019): ``v = beta * v + delta``; ``x += server_lr * v``.
- FedAdam / FedYogi / FedAdagrad (Reddi et al., "Adaptive Federated Optimization", 2021):
  ``m = beta1 * m + (1 - beta1) * delta``, then the second moment ``v`` by
  Adam: ``v = beta2 * v + (1 - beta2) * delta**2``;
  Yogi: ``v = v - (1 - beta2) * delta**2 * sign(v - delta**2)``;
  Adagrad: ``v = v + delta**2``;
  and ``x += server_lr * m / (sqrt(v) + tau)``. As in the paper, ``v`` starts at ``tau**2``
  and ``m`` at 0, with no bias correction.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cohort.errors import ErrorCode, InvalidRequest

__all__ = ["OPTIMIZERS", "OptimizerName", "ServerOptimizer"]

OptimizerName = Literal["sgd", "momentum", "adam", "yogi", "adagrad"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("sgd", "momentum", "adam", "yogi", "adagrad")


class ServerOptimizer:
    """One of the server optimisers above; :meth:`step` returns the next global model."""

    def __init__(
        self,
        name: OptimizerName = "sgd",
        *,
        server_lr: float = 1.0,
        momentum: float = 0.9,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-3,
    ) -> None:
        if name not in OPTIMIZERS:
            raise InvalidRequest(f"unknown server optimizer {name!r}; known: {OPTIMIZERS}")
        self.name = name
        self.server_lr = server_lr
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(
        self, current: dict[str, np.ndarray], averaged: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Return the next global model from the current one and the round's average, each
        tensor in the dtype of ``averaged``."""
        if set(current) != set(averaged):
            raise InvalidRequest(
                "the averaged model's tensors differ from the global model's",
                code=ErrorCode.MODEL_VALIDATION_FAILED,
            )
        out: dict[str, np.ndarray] = {}
        for name, avg in averaged.items():
            x = current[name].astype(np.float64)
            delta = avg.astype(np.float64) - x
            out[name] = (x + self.server_lr * self._direction(name, delta)).astype(avg.dtype)
        return out

    def _direction(self, name: str, delta: np.ndarray) -> np.ndarray:
        if self.name == "sgd":
            return delta
        if self.name == "momentum":
            v = self.v.get(name)
            self.v[name] = delta if v is None else self.momentum * v + delta
            return self.v[name]
        m = self.m.get(name, np.zeros_like(delta))
        v = self.v.get(name, np.full_like(delta, self.tau**2))
        m = self.beta1 * m + (1.0 - self.beta1) * delta
        sq = delta * delta
        if self.name == "adam":
            v = self.beta2 * v + (1.0 - self.beta2) * sq
        elif self.name == "yogi":
            v = v - (1.0 - self.beta2) * sq * np.sign(v - sq)
        else:  # adagrad
            v = v + sq
        self.m[name], self.v[name] = m, v
        return np.asarray(m / (np.sqrt(v) + self.tau))
