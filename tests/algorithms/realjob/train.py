"""Softmax regression in numpy on scikit-learn's breast cancer or wine data, for the algorithm
library's end-to-end tests. Each site takes a Dirichlet(alpha) label-skewed share of the
training rows; every model is scored on the shared held-out test set.

It uses the client helpers: FedProx's proximal gradient (``mu`` comes with the task; 0 outside
FedProx) and, with ``--scaffold``, SCAFFOLD's corrected gradients and control update.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

import cohort.client as flare
from cohort.client.fedprox import get_mu, proximal_gradient
from cohort.client.scaffold import ScaffoldClient
from cohort.simulate.partition import dirichlet, site_index

Params = dict[str, np.ndarray]


def load(name: str, site: int, n_sites: int, alpha: float) -> tuple[np.ndarray, ...]:
    data = load_breast_cancer() if name == "breast_cancer" else load_wine()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=0
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-9  # public scaling, for brevity
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    share = dirichlet(y_train, n_sites, alpha=alpha, seed=0, min_rows=5)[site]
    return X_train[share], y_train[share], X_test, y_test


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def gradient(p: Params, X: np.ndarray, y: np.ndarray) -> Params:
    probs = softmax(X @ p["W"] + p["b"])
    probs[np.arange(len(y)), y] -= 1.0
    return {"W": X.T @ probs / len(y), "b": probs.mean(axis=0)}


def evaluate(p: Params, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    probs = softmax(X @ p["W"] + p["b"])
    loss = -np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12))
    return {"accuracy": float(np.mean(probs.argmax(axis=1) == y)), "loss": float(loss)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=["breast_cancer", "wine"], default="breast_cancer")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet label skew")
    parser.add_argument("--steps", type=int, default=10, help="local gradient steps")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--scaffold", action="store_true")
    parser.add_argument("--poison", default="", help="this site sends garbage weights")
    parser.add_argument("--shares", type=int, default=0, help="data shares (default: sites)")
    args = parser.parse_args()

    flare.init()
    n_sites = args.shares or int(os.environ.get("COHORT_NUM_SITES", "4"))
    X, y, X_test, y_test = load(args.data, site_index(flare.get_site_name()), n_sites, args.alpha)
    n_classes = 2 if args.data == "breast_cancer" else 3
    scaffold = ScaffoldClient()
    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            init = {"W": np.zeros((X.shape[1], n_classes)), "b": np.zeros(n_classes)}
            flare.send(flare.FLModel(params=init, meta={"num_samples": len(y)}))
            continue
        weights = scaffold.receive(model.params) if args.scaffold else dict(model.params)
        metrics = evaluate(weights, X_test, y_test)
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            continue
        mu = get_mu(model)
        start = {k: v.copy() for k, v in weights.items()}
        p = {k: v.copy() for k, v in weights.items()}
        for _ in range(args.steps):
            grad = gradient(p, X, y)
            if mu > 0:
                prox = proximal_gradient(p, start, mu)
                grad = {k: grad[k] + prox[k] for k in grad}
            if args.scaffold:
                corr = scaffold.correction()
                grad = {k: grad[k] + corr[k] for k in grad}
            p = {k: p[k] - args.lr * grad[k] for k in p}
        out = scaffold.update(p, args.steps, args.lr) if args.scaffold else p
        if flare.get_site_name() == args.poison:  # a Byzantine site: flipped, scaled weights
            out = {k: -50.0 * v for k, v in out.items()}
        flare.send(flare.FLModel(params=out, metrics=metrics, meta={"num_samples": len(y)}))


if __name__ == "__main__":
    main()
