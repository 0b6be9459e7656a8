"""The server optimisers' update rules written out in numpy, straight from the papers."""

from __future__ import annotations

import numpy as np


def reference(name: str, x0: np.ndarray, offsets: list[np.ndarray], **kw: float) -> np.ndarray:
    """The global model after rounds whose averaged model is ``x + offsets[r]``."""
    lr, mom = kw.get("server_lr", 1.0), kw.get("momentum", 0.9)
    b1, b2, tau = kw.get("beta1", 0.9), kw.get("beta2", 0.99), kw.get("tau", 1e-3)
    x = x0.copy()
    m = np.zeros_like(x)
    v = np.full_like(x, tau**2) if name != "momentum" else np.zeros_like(x)
    for off in offsets:
        avg = x + off  # the round's averaged model
        delta = avg - x
        if name == "sgd":
            x = x + lr * delta
        elif name == "momentum":
            v = mom * v + delta
            x = x + lr * v
        else:
            m = b1 * m + (1 - b1) * delta
            if name == "adam":
                v = b2 * v + (1 - b2) * delta**2
            elif name == "yogi":
                v = v - (1 - b2) * delta**2 * np.sign(v - delta**2)
            else:
                v = v + delta**2
            x = x + lr * m / (np.sqrt(v) + tau)
    return x
