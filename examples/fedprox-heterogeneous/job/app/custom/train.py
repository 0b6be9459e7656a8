"""fedprox-heterogeneous site script: local softmax regression with FedProx's proximal term.

Each site holds images of two digits only (a label-skewed share of scikit-learn's digits,
chosen by its name). It scores every global model on the shared test set, then trains it
locally with the ``mu`` its train task carries (0 in a FedAvg job, so the same script runs
both).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fedprox_lib lives next to us

from fedprox_lib import evaluate, init_params, load_site, load_test, train

import cohort.client as flare
from cohort.client.fedprox import get_mu
from cohort.simulate.partition import site_index


def main() -> None:
    flare.init()
    site = flare.get_site_name()
    n_sites = int(os.environ.get("COHORT_NUM_SITES", "3"))
    X, y = load_site(site_index(site), n_sites)
    X_test, y_test = load_test()
    print(f"{site}: {len(y)} training images of digits {sorted(set(y.tolist()))}", flush=True)

    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            flare.send(flare.FLModel(params=init_params(), meta={"num_samples": len(y)}))
            continue
        metrics = evaluate(model.params, X_test, y_test)  # the global model as received
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            print(f"{site}: final model test accuracy {metrics['accuracy']:.4f}", flush=True)
            continue
        mu = get_mu(model)
        params = train(model.params, X, y, mu)
        flare.send(flare.FLModel(params=params, metrics=metrics, meta={"num_samples": len(y)}))
        print(
            f"{site}: round {model.current_round}/{model.total_rounds} mu {mu:g} "
            f"global test acc {metrics['accuracy']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
