"""Built-in site script: softmax regression in numpy on one of scikit-learn's bundled data sets.

Used by experiments created over the REST API (``cohort.server.services.experiments``). Each
site takes an IID share of the training rows, chosen by its site number (``site-<n>``) and the
seed, scores every global model it receives on the shared held-out test rows, and trains it
locally with full-batch gradient descent; a ``predict`` task gets the class counts its
model predicts on those rows, and the custom command ``Custom_data_summary`` its row and
feature counts. Features are standardised with the mean and std of
the whole public data set: a fixed transform every site applies identically.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

import cohort.client as flare

DATASETS = (
    "breast_cancer",
    "digits",
    "iris",
    "wine",
)  # the same as cohort.recipes.scripts.TABULAR_DATASETS


def load_share(name: str, share: int, shares: int, seed: int) -> tuple[np.ndarray, ...]:
    """(X_train, y_train, X_test, y_test, n_classes) for one site's IID share."""
    data = getattr(datasets, f"load_{name}")()
    X = np.asarray(data.data, dtype=np.float64)
    X = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)).astype(np.float32)
    y = np.asarray(data.target, dtype=np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    order = np.random.default_rng(seed).permutation(len(y_tr))
    mine = np.array_split(order, shares)[share % shares]
    return X_tr[mine], y_tr[mine], X_te, y_te, np.asarray(int(y.max()) + 1)


def probabilities(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Softmax of the linear scores."""
    z = X @ params["w"] + params["b"]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def evaluate(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and cross-entropy loss."""
    p = probabilities(params, X)
    loss = float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())
    return {"accuracy": float((p.argmax(axis=1) == y).mean()), "loss": loss}


def train(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, epochs: int, lr: float
) -> dict[str, np.ndarray]:
    """Full-batch gradient descent on the cross-entropy."""
    w, b = params["w"].astype(np.float64), params["b"].astype(np.float64)
    onehot = np.eye(w.shape[1])[y]
    for _ in range(epochs):
        grad = probabilities({"w": w, "b": b}, X) - onehot
        w -= lr * X.T @ grad / len(y)
        b -= lr * grad.mean(axis=0)
    return {"w": w.astype(np.float32), "b": b.astype(np.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=DATASETS, default="breast_cancer")
    parser.add_argument("--shares", type=int, default=3, help="how many shares the data has")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    flare.init()
    site = flare.get_site_name()
    try:
        share = int(site.rsplit("-", 1)[1]) - 1
    except (IndexError, ValueError):
        share = sum(site.encode()) % args.shares
    X, y, X_te, y_te, n_classes = load_share(args.dataset, share, args.shares, args.seed)
    print(f"{site}: {len(y)} rows of {args.dataset}", flush=True)
    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            k = int(n_classes)
            params = {"w": np.zeros((X.shape[1], k), np.float32), "b": np.zeros(k, np.float32)}
            flare.send(flare.FLModel(params=params, meta={"num_samples": len(y)}))
            continue
        if flare.is_command():  # the one custom command this app knows
            if model.meta.get("command") != "Custom_data_summary":
                raise SystemExit(f"unknown command {model.meta.get('command')!r}")
            summary = {"train_rows": len(y), "test_rows": len(y_te), "features": X.shape[1]}
            flare.send(flare.FLModel(metrics={k: float(v) for k, v in summary.items()}))
            continue
        metrics = evaluate(model.params, X_te, y_te)
        if flare.is_predict():  # predictions on the held-out rows: how many of each class
            predicted = probabilities(model.params, X_te).argmax(axis=1)
            counts = {
                f"predicted_{k}": float((predicted == k).sum()) for k in range(int(n_classes))
            }
            sent = {**counts, "accuracy": metrics["accuracy"], "rows": float(len(y_te))}
            flare.send(flare.FLModel(metrics=sent, meta={"num_samples": len(y_te)}))
            continue
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics, meta={"num_samples": len(y_te)}))
            continue
        new = train(model.params, X, y, args.epochs, args.lr)
        sent = {**metrics, "data_samples": float(len(y)), "local_loss": evaluate(new, X, y)["loss"]}
        flare.send(flare.FLModel(params=new, metrics=sent, meta={"num_samples": len(y)}))
        print(f"{site}: round {model.current_round} test acc {metrics['accuracy']:.3f}", flush=True)


if __name__ == "__main__":
    main()
