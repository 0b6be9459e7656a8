"""cross-site-eval: a one-hidden-layer perceptron in numpy on scikit-learn's digits, each site
holding a Dirichlet label-skewed share that it splits into its own training and validation
data.

Cross-site evaluation scores every model on every site's *own* validation data: a site's
model, trained on a few digits, does well at home and worse elsewhere; the global model
should do well everywhere. Everything here is deterministic in (seed, round, site), so the
simulator and a real federation compute the same models.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from cohort.simulate.partition import dirichlet

__all__ = ["ALPHA", "HIDDEN", "evaluate", "init_params", "load_site", "train"]

Params = dict[str, np.ndarray]

ALPHA = 0.3  # Dirichlet concentration of the label skew: most sites see a few digits
MIN_ROWS = 80  # every site holds at least this many images (so at most 22 sites)
VALIDATION_FRACTION = 0.25  # of each site's own share, kept for validation
HIDDEN = 32  # hidden units
EPOCHS = 2  # local passes over the site's training data per round
BATCH = 32
LR = 0.3


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data / 16.0, np.asarray(digits.target, dtype=np.int64)


def load_site(
    index: int, n_sites: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Site ``index``'s (0-based) training and validation images and labels."""
    X, y = _digits()
    rows = dirichlet(y, n_sites, alpha=ALPHA, seed=seed, min_rows=MIN_ROWS)[index]
    train_rows, val_rows = train_test_split(
        rows, test_size=VALIDATION_FRACTION, random_state=seed + index
    )
    return X[train_rows], y[train_rows], X[val_rows], y[val_rows]


def init_params(seed: int = 0) -> Params:
    """Small random weights (a hidden layer needs its symmetry broken), zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0.0, 0.1, (64, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(0.0, 0.1, (HIDDEN, 10)),
        "b2": np.zeros(10),
    }


def _forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.maximum(X @ params["w1"] + params["b1"], 0.0)
    logits = hidden @ params["w2"] + params["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return hidden, e / e.sum(axis=1, keepdims=True)


def train(params: Params, X: np.ndarray, y: np.ndarray, round: int, index: int) -> Params:
    """``EPOCHS`` of mini-batch SGD on the cross-entropy, shuffled by (round, site)."""
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    rng = np.random.default_rng((round, index))
    onehot = np.eye(10)[y]
    for _ in range(EPOCHS):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH):
            rows = order[start : start + BATCH]
            hidden, proba = _forward(p, X[rows])
            d_logits = (proba - onehot[rows]) / len(rows)
            d_hidden = (d_logits @ p["w2"].T) * (hidden > 0)
            grads = {
                "w2": hidden.T @ d_logits,
                "b2": d_logits.sum(axis=0),
                "w1": X[rows].T @ d_hidden,
                "b1": d_hidden.sum(axis=0),
            }
            p = {k: p[k] - LR * grads[k] for k in p}
    return p


def evaluate(params: Params, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and mean cross-entropy on ``(X, y)``."""
    _, proba = _forward(params, X)
    loss = float(-np.mean(np.log(proba[np.arange(len(y)), y] + 1e-12)))
    return {"accuracy": float(np.mean(proba.argmax(axis=1) == y)), "loss": loss}
