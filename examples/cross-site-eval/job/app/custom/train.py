"""cross-site-eval site script: trains a small MLP in the FedAvg rounds, then answers each
``validate`` task (the global model, then every site's model) on its own validation data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # mlp_lib lives next to us

from mlp_lib import evaluate, init_params, load_site, train

import cohort.client as flare
from cohort.simulate.partition import site_index


def main() -> None:
    flare.init()
    site = flare.get_site_name()
    index = site_index(site)
    X, y, X_val, y_val = load_site(index, int(os.environ.get("COHORT_NUM_SITES", "3")))
    print(f"{site}: {len(y)} training, {len(y_val)} validation images", flush=True)

    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        if flare.is_submit_model():
            flare.send(flare.FLModel(params=init_params(), meta={"num_samples": len(y)}))
            continue
        metrics = evaluate(model.params, X_val, y_val)  # on this site's own validation data
        if flare.is_evaluate():
            owner = model.meta.get("cross_site_model", "global")
            print(f"{site}: model of {owner}: accuracy {metrics['accuracy']:.4f}", flush=True)
            flare.send(flare.FLModel(metrics=metrics))
            continue
        params = train(model.params, X, y, model.current_round, index)
        flare.send(flare.FLModel(params=params, metrics=metrics, meta={"num_samples": len(y)}))


if __name__ == "__main__":
    main()
