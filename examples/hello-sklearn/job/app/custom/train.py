"""hello-sklearn site script: SGDClassifier.partial_fit on the site's share of the wine data,
inside Cohort's client API loop.

The platform runs it as ``python custom/train.py`` from the app folder on every site. Each
site scores every global model it receives on the shared held-out test set, then trains it
for a few passes over its own data and sends the coefficients back.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hello_sklearn_lib lives next to us

from hello_sklearn_lib import EPOCHS, evaluate, init_params, load_site, load_test, train

import cohort.client as flare
from cohort.simulate.partition import site_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="partial_fit passes per round")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of SGD")
    args = parser.parse_args()

    flare.init()
    site = flare.get_site_name()
    n_sites = int(os.environ.get("COHORT_NUM_SITES", "3"))
    X, y = load_site(site_index(site), n_sites, args.seed)
    X_test, y_test = load_test(args.seed)
    print(f"{site}: {len(y)} wines, classes {y.tolist().count(0)}/{y.tolist().count(1)}/"
          f"{y.tolist().count(2)}", flush=True)  # fmt: skip

    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            flare.send(flare.FLModel(params=init_params(X.shape[1]), meta={"num_samples": len(y)}))
            continue
        metrics = evaluate(model.params, X_test, y_test)  # the global model as received
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            print(f"{site}: final model test accuracy {metrics['accuracy']:.4f}", flush=True)
            continue
        params = train(model.params, X, y, args.epochs, args.seed)
        flare.send(flare.FLModel(params=params, metrics=metrics, meta={"num_samples": len(y)}))
        print(
            f"{site}: round {model.current_round}/{model.total_rounds} global test acc "
            f"{metrics['accuracy']:.4f} loss {metrics['loss']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
