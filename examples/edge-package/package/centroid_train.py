"""Site script of the example compute package: federated nearest centroids.

Each site moves the global centroids towards its own class means (``--step``), and FedAvg
averages them weighted by the sites' row counts. Every answer reports ``centroid_accuracy``
(the held-out accuracy of the centroids the site received), a metric the built-in app never
sends, and ``accuracy``, which the edge API lists as validations.
"""

from __future__ import annotations

import argparse

import numpy as np
from centroids import accuracy, class_means, load_share

import cohort.client as flare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="iris")
    parser.add_argument("--shares", type=int, default=3)
    parser.add_argument("--step", type=float, default=1.0)
    args = parser.parse_args()

    flare.init()
    site = flare.get_site_name()
    share = (int(site.rsplit("-", 1)[1]) - 1) % args.shares if site[-1].isdigit() else 0
    X, y, X_te, y_te = load_share(args.dataset, share, args.shares)
    k = int(max(y.max(), y_te.max())) + 1
    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            start = {"centroids": np.zeros((k, X.shape[1]), np.float32)}
            flare.send(flare.FLModel(params=start, meta={"num_samples": len(y)}))
            continue
        centroids = np.asarray(model.params["centroids"], np.float64)
        score = {"accuracy": accuracy(centroids, X_te, y_te)}
        score["centroid_accuracy"] = score["accuracy"]
        if not flare.is_train():  # validate (and anything else): score the model received
            flare.send(flare.FLModel(metrics=score, meta={"num_samples": len(y_te)}))
            continue
        moved = centroids + args.step * (class_means(X, y, k) - centroids)
        params = {"centroids": moved.astype(np.float32)}
        flare.send(flare.FLModel(params=params, metrics=score, meta={"num_samples": len(y)}))
        print(f"{site}: round {model.current_round} centroid accuracy {score['accuracy']:.3f}")


if __name__ == "__main__":
    main()
