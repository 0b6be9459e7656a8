"""SCAFFOLD on the site: the control-variate correction and the update it sends.

The server's SCAFFOLD model carries, next to each weight ``w``, the global control variate
``c`` as the tensor ``scaffold_c.w``. A site (Karimireddy et al., 2020, option II):

1. splits what it receives (:meth:`ScaffoldClient.receive`) into weights ``x`` and ``c``;
2. trains ``y`` from ``x`` with corrected gradients ``g(y) + (c - c_i)``
   (:meth:`ScaffoldClient.correction`), ``c_i`` being its own control variate (0 at first);
3. sends (:meth:`ScaffoldClient.update`) its weights ``y`` and, as ``scaffold_c.w``, the
   change of its control variate: ``c_i+ = c_i - c + (x - y) / (K * lr)`` for ``K`` local
   steps of rate ``lr``, minus ``c_i``.

Keep one :class:`ScaffoldClient` for the life of the script: it holds ``c_i`` across rounds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["CONTROL_PREFIX", "ScaffoldClient", "split_controls"]

#: Name prefix of control-variate tensors in SCAFFOLD models and updates.
CONTROL_PREFIX = "scaffold_c."


def split_controls(
    params: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Split a SCAFFOLD model into (weights, controls by weight name)."""
    weights = {k: v for k, v in params.items() if not k.startswith(CONTROL_PREFIX)}
    controls = {
        k[len(CONTROL_PREFIX) :]: v for k, v in params.items() if k.startswith(CONTROL_PREFIX)
    }
    return weights, controls


class ScaffoldClient:
    """A site's SCAFFOLD state: its control variate ``c_i`` and the round's ``x`` and ``c``."""

    def __init__(self) -> None:
        self.local_c: dict[str, np.ndarray] = {}
        self.start: dict[str, np.ndarray] = {}
        self.global_c: dict[str, np.ndarray] = {}

    def receive(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Take a received model; return its weights (what to train)."""
        weights, controls = split_controls(params)
        missing = set(weights) - set(controls)
        if missing:
            raise ValueError(
                f"not a SCAFFOLD model: no control variate for {sorted(missing)}; "
                "is the job's workflow scaffold?"
            )
        self.start = {k: np.array(v, dtype=np.float64) for k, v in weights.items()}
        self.global_c = {k: np.asarray(controls[k], dtype=np.float64) for k in weights}
        for name, value in self.start.items():
            self.local_c.setdefault(name, np.zeros_like(value))
        return {k: np.array(v) for k, v in weights.items()}

    def correction(self) -> dict[str, np.ndarray]:
        """``c - c_i`` per weight: add it to each local gradient."""
        return {k: self.global_c[k] - self.local_c[k] for k in self.start}

    def update(
        self, weights: Mapping[str, np.ndarray], num_steps: int, lr: float
    ) -> dict[str, np.ndarray]:
        """The params to send after ``num_steps`` local steps of rate ``lr``: the trained
        ``weights`` and each control variate's change; ``c_i`` moves to its new value."""
        if num_steps < 1 or lr <= 0:
            raise ValueError("SCAFFOLD needs num_steps >= 1 and lr > 0")
        out: dict[str, np.ndarray] = {}
        for name, x in self.start.items():
            y = np.asarray(weights[name])
            new_c = self.local_c[name] - self.global_c[name] + (x - y) / (num_steps * lr)
            out[name] = y
            out[CONTROL_PREFIX + name] = (new_c - self.local_c[name]).astype(y.dtype)
            self.local_c[name] = new_c
        return out
