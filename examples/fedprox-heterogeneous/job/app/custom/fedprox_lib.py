"""fedprox-heterogeneous: softmax regression in numpy on scikit-learn's digits (1,797 8x8
images of the digits 0-9), split so that each site holds images of only two digits.

Everything a site needs besides the client API loop: its share of the data, the model as
arrays, local training with FedProx's proximal term, evaluation, and an in-process reference
of the whole federation that the tests compare the platform's global models with.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from cohort.client.fedprox import proximal_gradient
from cohort.simulate.partition import label_skew

__all__ = [
    "CLASSES_PER_SITE",
    "LOCAL_STEPS",
    "LR",
    "evaluate",
    "init_params",
    "load_site",
    "load_test",
    "reference",
    "train",
]

Params = dict[str, np.ndarray]

TEST_FRACTION = 0.25  # 450 images held out, stratified, the same on every site
CLASSES_PER_SITE = 2  # pathological label skew: each site sees two digits
LOCAL_STEPS = 50  # full-batch gradient steps per round: long local training drifts apart
LR = 0.5  # learning rate of the local steps
N_CLASSES = 10
N_FEATURES = 64


@functools.cache
def _data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    X = digits.data / 16.0  # pixel intensities 0..16 -> 0..1: the same scale on every site
    return tuple(  # type: ignore[return-value]
        train_test_split(
            X, digits.target, test_size=TEST_FRACTION, stratify=digits.target, random_state=seed
        )
    )


def load_test(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The held-out test images and labels (the same on every site)."""
    _, X_test, _, y_test = _data(seed)
    return X_test, y_test


def load_site(index: int, n_sites: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Share ``index`` (0-based) of the training images: label skew, two digits per site."""
    X_train, _, y_train, _ = _data(seed)
    rows = label_skew(y_train, n_sites, classes_per_site=CLASSES_PER_SITE, seed=seed)[index]
    return X_train[rows], y_train[rows]


def init_params() -> Params:
    """The round-0 model: zero weights and biases (every digit equally likely)."""
    return {"w": np.zeros((N_FEATURES, N_CLASSES)), "b": np.zeros(N_CLASSES)}


def _probabilities(params: Params, X: np.ndarray) -> np.ndarray:
    logits = X @ params["w"] + params["b"]
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def train(
    global_params: Params,
    X: np.ndarray,
    y: np.ndarray,
    mu: float,
    steps: int = LOCAL_STEPS,
    lr: float = LR,
) -> Params:
    """``steps`` gradient steps on the cross-entropy plus ``mu/2 * ||w - w_global||^2``
    (``mu = 0``: plain local training, as FedAvg's sites do)."""
    params = {k: np.array(v, dtype=np.float64) for k, v in global_params.items()}
    onehot = np.eye(N_CLASSES)[y]
    for _ in range(steps):
        error = (_probabilities(params, X) - onehot) / len(y)
        grad = {"w": X.T @ error, "b": error.sum(axis=0)}
        prox = proximal_gradient(params, global_params, mu)
        params = {k: params[k] - lr * (grad[k] + prox[k]) for k in params}
    return params


def evaluate(params: Params, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``params`` on ``(X, y)``."""
    p = _probabilities(params, X)
    loss = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
    return {"accuracy": float(np.mean(p.argmax(axis=1) == y)), "loss": loss}


def reference(n_sites: int, rounds: int, mu: float, seed: int = 0) -> list[float]:
    """Test accuracy of each round's global model (rounds 1..``rounds``) of the same
    federation computed in one process: the sample-weighted mean of the sites' models."""
    X_test, y_test = load_test(seed)
    shares = [load_site(i, n_sites, seed) for i in range(n_sites)]
    params = init_params()
    accuracies = []
    for _ in range(rounds):
        models = [(train(params, X, y, mu), len(y)) for X, y in shares]
        total = sum(n for _, n in models)
        params = {k: sum(m[k] * (n / total) for m, n in models) for k in params}
        accuracies.append(evaluate(params, X_test, y_test)["accuracy"])
    return accuracies
