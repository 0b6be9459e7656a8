"""What a round's aggregation costs on the server: time and peak memory of each rule.

Feeds ``--updates`` updates of a ``--params`` float32 model into each aggregator (the weighted
mean, the robust rules) one at a time, as the workflow does, then takes the result; also
times a FedAdam step. Peak memory is measured with tracemalloc (numpy reports its buffers to
it) and excludes the update being generated. Prints one JSON line per rule.

    .venv/bin/python benchmarks/aggregators.py --params 1000000 --updates 10
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Iterator

import numpy as np

from cohort.aggregators import RobustAggregator, ServerOptimizer, WeightedMean
from cohort.aggregators.robust import ROBUST_RULES


def updates(n: int, params: int) -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    for _ in range(n):
        yield {"w": rng.standard_normal(params, dtype=np.float32)}


def measure(rule: str, n: int, params: int) -> dict[str, float | int | str]:
    agg = WeightedMean() if rule == "weighted_mean" else RobustAggregator(rule)  # type: ignore[arg-type]
    seconds = 0.0
    tracemalloc.start()
    for update in updates(n, params):
        tracemalloc.reset_peak()  # the generated update is the workflow's read buffer
        start = time.perf_counter()
        agg.add(iter(update.items()), 1.0)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    agg.result()
    seconds += time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    model_mb = params * 4 / 1e6
    return {
        "rule": rule,
        "updates": n,
        "params": params,
        "seconds": round(seconds, 3),
        "peak_mb": round(peak / 1e6, 1),
        "peak_models": round(peak / 1e6 / model_mb, 1),
    }


def fedadam_step(params: int) -> float:
    opt = ServerOptimizer("adam", server_lr=0.01)
    x = {"w": np.zeros(params, np.float32)}
    avg = {"w": np.ones(params, np.float32)}
    opt.step(x, avg)  # the first step allocates the state
    start = time.perf_counter()
    opt.step(x, avg)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=10)
    args = parser.parse_args()
    for rule in ("weighted_mean", *ROBUST_RULES):
        print(json.dumps(measure(rule, args.updates, args.params)), flush=True)
    step = fedadam_step(args.params)
    print(json.dumps({"rule": "fedadam_step", "params": args.params, "seconds": round(step, 3)}))


if __name__ == "__main__":
    main()
