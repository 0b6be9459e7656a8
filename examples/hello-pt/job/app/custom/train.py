"""hello-pt site script: a small CNN trained with PyTorch on the site's share of the digits,
inside Cohort's client API loop.

The platform runs it as ``python custom/train.py`` from the app folder on every site. Each
site scores every global model it receives on the shared held-out test set, trains it for
``--epochs`` passes over its own images and sends the weights back, weighted by its count.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hello_pt_lib lives next to us

import numpy as np
import torch
from hello_pt_lib import EPOCHS, LR, evaluate, init_params, load_site, load_test, train

import cohort.client as flare
from cohort.simulate.partition import site_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="local passes per round")
    parser.add_argument("--lr", type=float, default=LR, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the batches")
    args = parser.parse_args()
    # One thread per site: the network is tiny, a simulation runs several sites at once, and
    # the same thread count everywhere gives the same floating-point results everywhere.
    torch.set_num_threads(1)

    flare.init()
    site = flare.get_site_name()
    index = site_index(site)
    n_sites = int(os.environ.get("COHORT_NUM_SITES", "3"))
    X, y = load_site(index, n_sites, args.seed)
    X_test, y_test = load_test(args.seed)
    counts = np.bincount(y, minlength=10).tolist()
    print(f"{site}: {len(y)} images, per digit {counts}", flush=True)

    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            flare.send(flare.FLModel(params=init_params(args.seed), meta={"num_samples": len(y)}))
            continue
        metrics = evaluate(model.params, X_test, y_test)  # the global model as received
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            print(f"{site}: final model test accuracy {metrics['accuracy']:.4f}", flush=True)
            continue
        params = train(
            model.params,
            X,
            y,
            epochs=args.epochs,
            lr=args.lr,
            seed=args.seed,
            site=index,
            round=model.current_round or 0,
        )
        flare.send(flare.FLModel(params=params, metrics=metrics, meta={"num_samples": len(y)}))
        print(
            f"{site}: round {model.current_round}/{model.total_rounds} global test acc "
            f"{metrics['accuracy']:.4f} loss {metrics['loss']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
