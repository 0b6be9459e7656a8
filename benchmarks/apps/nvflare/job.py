"""NVIDIA FLARE job for Cohort's benchmarks: NumpyFedAvgRecipe around client.py.

    python job.py --sites N --rounds R --params P --workspace W          # simulate (SimEnv)
    python job.py --sites N --rounds R --params P --export --export-dir DIR   # job folder only

The initial model (zeros, one float32 array of P parameters) is written as a .npy checkpoint.
"""

import argparse
import os

import numpy as np
from nvflare.app_common.np.recipes.fedavg import NumpyFedAvgRecipe
from nvflare.recipe import SimEnv

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workspace", default="")
    args, _ = parser.parse_known_args()  # --export/--export-dir are the recipe's own flags
    ckpt = os.path.join(HERE, "initial.npy")
    np.save(ckpt, np.zeros(args.params, dtype=np.float32))
    recipe = NumpyFedAvgRecipe(
        name="bench",
        initial_ckpt=ckpt,
        min_clients=args.sites,
        num_rounds=args.rounds,
        train_script=os.path.join(HERE, "client.py"),
    )
    recipe.add_client_file(os.path.join(HERE, "workloads.py"))
    env = SimEnv(
        num_clients=args.sites,
        num_threads=args.threads or min(args.sites, os.cpu_count() or 1),
        workspace_root=args.workspace,
    )
    run = recipe.execute(env)
    print("status:", run.get_status())


if __name__ == "__main__":
    main()
