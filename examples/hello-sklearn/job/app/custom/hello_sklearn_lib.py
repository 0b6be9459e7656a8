"""hello-sklearn: a linear classifier (scikit-learn's SGDClassifier, trained with partial_fit)
on scikit-learn's wine data set (178 wines, 13 features, 3 cultivars).

Everything a site needs besides the client API loop: its Dirichlet share of the data, the
model as arrays, local training, evaluation, and an in-process reference FedAvg that the
tests compare the platform's global model with.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from cohort.simulate.partition import dirichlet

__all__ = [
    "ALPHA",
    "CLASSES",
    "EPOCHS",
    "LR",
    "MIN_ROWS",
    "TEST_FRACTION",
    "central_baseline",
    "evaluate",
    "fedavg",
    "init_params",
    "load_site",
    "load_test",
    "reference_fedavg",
    "split_indices",
    "train",
]

Params = dict[str, np.ndarray]

CLASSES = np.array([0, 1, 2])
TEST_FRACTION = 0.25  # 45 wines held out, stratified
ALPHA = 1.0  # Dirichlet concentration of the label skew (smaller = more skewed)
MIN_ROWS = 10  # every site gets at least this many training rows (so at most 13 sites)
EPOCHS = 5  # partial_fit passes over the local data per round
LR = 0.05  # SGD's constant learning rate (eta0)
L2 = 1e-4  # SGD's alpha: the L2 penalty

# Feature scaling must be the same on every site, without pooling data: each site standardises
# with these agreed constants (the per-feature mean and standard deviation of the public data
# set, no labels), standing in for a feature specification fixed before training.
_MEAN = np.array(
    [13.000618, 2.336348, 2.366517, 19.494944, 99.741573, 2.295112, 2.02927, 0.361854,
     1.590899, 5.05809, 0.957449, 2.611685, 746.893258]
)  # fmt: skip
_STD = np.array(
    [0.809543, 1.114004, 0.273572, 3.33017, 14.242308, 0.624091, 0.996049, 0.124103,
     0.570749, 2.311765, 0.227929, 0.707993, 314.021657]
)  # fmt: skip


@functools.cache
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    # Parsed once per process (a simulation runs many sites in one process).
    X, y = load_wine(return_X_y=True)
    X = (X - _MEAN) / _STD
    y = np.asarray(y, dtype=np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def split_indices(n_sites: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Row indices of each site's training share, and of the held-out test set.

    The test set is a stratified ``TEST_FRACTION``; the rest is split with
    ``cohort.simulate.partition.dirichlet`` (each class's rows divided among the sites in
    Dirichlet(``ALPHA``) proportions), every site getting at least ``MIN_ROWS`` rows.
    """
    y = _dataset()[1]
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, stratify=y, random_state=seed
    )
    shares = dirichlet(y[train_idx], n_sites, alpha=ALPHA, seed=seed, min_rows=MIN_ROWS)
    return [np.sort(train_idx[s]) for s in shares], np.sort(test_idx)


def load_site(site_index: int, n_sites: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training data of site ``site_index`` (0-based) out of ``n_sites``."""
    if not 0 <= site_index < n_sites:
        raise ValueError(f"site_index {site_index} is outside 0..{n_sites - 1}")
    X, y = _dataset()
    rows = split_indices(n_sites, seed)[0][site_index]
    return X[rows], y[rows]


def load_test(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The held-out test set (the same for any number of sites)."""
    X, y = _dataset()
    rows = split_indices(1, seed)[1]
    return X[rows], y[rows]


def init_params(n_features: int = 13) -> Params:
    """The initial model: all zeros (a linear model needs no symmetry breaking)."""
    return {
        "coef": np.zeros((len(CLASSES), n_features)),
        "intercept": np.zeros(len(CLASSES)),
    }


def _classifier(params: Params, seed: int) -> SGDClassifier:
    clf = SGDClassifier(
        loss="log_loss", learning_rate="constant", eta0=LR, alpha=L2, random_state=seed
    )
    # partial_fit continues from the coefficients it finds: start from the global model.
    clf.coef_ = np.array(params["coef"], dtype=np.float64)
    clf.intercept_ = np.array(params["intercept"], dtype=np.float64)
    clf.classes_ = CLASSES
    return clf


def train(
    params: Params, X: np.ndarray, y: np.ndarray, epochs: int = EPOCHS, seed: int = 0
) -> Params:
    """``epochs`` passes of ``partial_fit`` from ``params``; returns the new coefficients."""
    clf = _classifier(params, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            clf.partial_fit(X, y, classes=CLASSES)
    return {"coef": clf.coef_.copy(), "intercept": clf.intercept_.copy()}


def evaluate(params: Params, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and log loss of ``params`` on (X, y)."""
    clf = _classifier(params, 0)
    proba = clf.predict_proba(X)
    accuracy = float(np.mean(CLASSES[np.argmax(proba, axis=1)] == y))
    return {"accuracy": accuracy, "loss": float(log_loss(y, proba, labels=CLASSES))}


def fedavg(updates: list[tuple[Params, int]]) -> Params:
    """Sample-weighted mean of each parameter, summed in the order given (as FedAvg does)."""
    total = sum(n for _, n in updates)
    out: Params = {}
    for name in updates[0][0]:
        acc = np.zeros_like(updates[0][0][name], dtype=np.float64)
        for params, n in updates:
            acc += float(n) * params[name]
        out[name] = acc / float(total)
    return out


def reference_fedavg(n_sites: int, rounds: int = 5, seed: int = 0) -> list[Params]:
    """FedAvg in one process, without the platform: the global model after each round."""
    sites = [load_site(k, n_sites, seed) for k in range(n_sites)]
    params = init_params()
    trail = [params]
    for _ in range(rounds):
        params = fedavg([(train(params, X, y, seed=seed), len(y)) for X, y in sites])
        trail.append(params)
    return trail


def central_baseline(rounds: int = 5, seed: int = 0) -> dict[str, float]:
    """The same model trained on the union of the sites' data, rounds x EPOCHS passes."""
    X, y = _dataset()
    rows = split_indices(1, seed)[0][0]
    params = train(init_params(), X[rows], y[rows], epochs=rounds * EPOCHS, seed=seed)
    return evaluate(params, *load_test(seed))
