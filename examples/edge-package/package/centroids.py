"""Nearest-centroid classification in numpy: the model is one centroid per class."""

from __future__ import annotations

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split


def load_share(name: str, share: int, shares: int) -> tuple[np.ndarray, ...]:
    """(X_train, y_train, X_test, y_test) of one site: an IID share of the training rows and
    the held-out rows every site shares, standardised with the whole data set's statistics."""
    data = getattr(datasets, f"load_{name}")()
    X = np.asarray(data.data, dtype=np.float64)
    X = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)).astype(np.float32)
    y = np.asarray(data.target, dtype=np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=1)
    mine = np.array_split(np.random.default_rng(1).permutation(len(y_tr)), shares)[share]
    return X_tr[mine], y_tr[mine], X_te, y_te


def class_means(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Each class's mean row (zeros for a class this site has no rows of)."""
    return np.stack(
        [X[y == c].mean(0) if (y == c).any() else np.zeros(X.shape[1]) for c in range(k)]
    )


def accuracy(centroids: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """The share of rows whose nearest centroid is their class's."""
    dist = ((X[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return float((dist.argmin(1) == y).mean())
