"""hello-numpy site script: local logistic-regression training inside Cohort's client API loop.

The platform runs it as ``python custom/train.py`` from the app folder on every site. Each
site loads its own label-skewed share of the breast-cancer data (from the site name), scores
every global model it receives on the shared held-out test set, and trains it locally.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hello_numpy_lib lives next to us

from hello_numpy_lib import (
    EPOCHS,
    LR,
    evaluate,
    init_params,
    load_split,
    load_test,
    share_of,
    train,
)

import cohort.client as flare


def say(message: str) -> None:
    """Print one line at once: the platform streams stdout to the job log."""
    print(message, flush=True)


def site_index(site: str) -> int:
    """``site-3`` -> 2: sites are numbered from 1, data shares from 0."""
    try:
        return int(site.rsplit("-", 1)[1]) - 1
    except (IndexError, ValueError):
        raise SystemExit(
            f"cannot tell the data share of site {site!r}: expected site-<n>"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="local steps per round")
    parser.add_argument("--lr", type=float, default=LR, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data split")
    args = parser.parse_args()

    flare.init()
    site = flare.get_site_name()
    n_sites = int(os.environ.get("COHORT_NUM_SITES", "3"))
    share, n_shares = share_of(site_index(site), n_sites)  # beyond 100 sites, shares repeat
    X, y = load_split(share, n_shares, args.seed)
    X_test, y_test = load_test(args.seed)
    say(f"{site}: {len(y)} training samples ({int(y.sum())} benign), share {share + 1}/{n_shares}")

    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            params = init_params(X.shape[1], args.seed)
            flare.send(flare.FLModel(params=params, meta={"num_samples": len(y)}))
            say(f"{site}: sent the initial model")
            continue
        metrics = evaluate(model.params, X_test, y_test)  # the global model as received
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            say(f"{site}: final model test accuracy {metrics['accuracy']:.4f}")
            continue
        new_params = train(model.params, X, y, args.epochs, args.lr)
        local_loss = evaluate(new_params, X, y)["loss"]
        flare.log("train_loss", local_loss, step=model.current_round)
        flare.send(flare.FLModel(params=new_params, metrics=metrics, meta={"num_samples": len(y)}))
        say(
            f"{site}: round {model.current_round}/{model.total_rounds} "
            f"global test acc {metrics['accuracy']:.4f} loss {metrics['loss']:.4f}, "
            f"local train loss {local_loss:.4f}",
        )


if __name__ == "__main__":
    main()
