"""ServerApp: FedAvg over every site for ``num-rounds`` rounds, no federated evaluation.

After each round the global model's arrival time goes to ``<out>.times.jsonl``; the final
global model goes to ``<out>.final.npz`` (the parity check compares it with Cohort's).
"""

import json
import time

import numpy as np
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from benchapp import workloads

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    n_sites, rounds, out = int(cfg["num-sites"]), int(cfg["num-rounds"]), str(cfg["out"])
    if cfg["workload"] == "parity":
        initial = workloads.parity_initial()
    else:
        initial = workloads.initial_params(int(cfg["num-params"]))

    def record(server_round: int, arrays: ArrayRecord) -> None:
        with open(f"{out}.times.jsonl", "a") as f:
            f.write(json.dumps({"round": server_round, "t": time.time()}) + "\n")
        if server_round == rounds:
            np.savez(f"{out}.final.npz", *arrays.to_numpy_ndarrays())

    strategy = FedAvg(
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=n_sites,
        min_available_nodes=n_sites,
    )
    strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(initial),
        num_rounds=rounds,
        evaluate_fn=record,
    )
