"""Workload 4: FedAvg of 32 updates of 25M float32 parameters against the machine's
memory-bandwidth bound, both measured in this process, in the same run.

- bound: ``acc += update`` in float32 over the same updates (the least memory traffic a
  sum of these bytes can take: read each update once, read and write the accumulator);
- cohort, tiled from files: ``TiledMean`` over the updates' safetensors files (in the page
  cache), as the FedAvg workflow aggregates on the server and in the simulator: at the end,
  tile by tile, every update's tile into a float64 accumulator that stays in the cache;
- cohort, running fold in memory: ``WeightedMean.add`` of each array, then ``result()``
  (SCAFFOLD's fold);
- cohort, running fold from files: the same, reading each update with ``iter_file_tensors``
  (FedAvg's fold before the tiled mean).

The ways are run interleaved (one of each, ``--repeat`` times), and each fraction of the
bound is the median of the ratios of the same repeat, so a load that changes during the
run moves all of them alike.

The updates are 4 distinct arrays used 8 times each, so the run needs ~0.5 GB, not 3.2 GB;
at 100 MB each they are far larger than any cache, so reuse does not flatter the numbers.

    .venv/bin/python benchmarks/aggregation.py [--params 25000000] [--updates 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from harness import median, save_results
from safetensors.numpy import save_file

from cohort.aggregators.tiled import TiledMean
from cohort.aggregators.weighted import WeightedMean
from cohort.wire.tensors import iter_file_tensors

DISTINCT = 4


BOUND = "numpy bound (float32 acc += u)"


def _interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def measure(n_params: int, n_updates: int, repeat: int) -> list[dict[str, object]]:
    """Time the bound and Cohort's three ways; one row each, with GB/s over the update bytes."""
    rng = np.random.default_rng(0)
    updates = [rng.random(n_params, dtype=np.float32) for _ in range(DISTINCT)]
    order = [updates[i % DISTINCT] for i in range(n_updates)]

    def bound() -> np.ndarray:
        acc = np.zeros(n_params, dtype=np.float32)
        for u in order:
            acc += u
        return acc / np.float32(n_updates)

    def cohort_memory() -> dict[str, np.ndarray]:
        agg = WeightedMean()
        for u in order:
            agg.add([("w", u)], 10.0)
        return agg.result()

    with tempfile.TemporaryDirectory(prefix="cohort-agg-") as tmp:
        files = [Path(tmp) / f"u{i}.safetensors" for i in range(DISTINCT)]
        for path, u in zip(files, updates, strict=True):
            save_file({"w": u}, str(path))
        file_order = [files[i % DISTINCT] for i in range(n_updates)]

        def cohort_files() -> dict[str, np.ndarray]:
            agg = WeightedMean()
            for path in file_order:
                agg.add(iter_file_tensors(path), 10.0)
            return agg.result()

        def cohort_tiled() -> dict[str, np.ndarray]:
            agg = TiledMean()
            for i, path in enumerate(file_order):
                agg.add_file(path, 10.0, key=f"site-{i:03d}")
            return agg.result()

        check = np.abs(bound() - cohort_memory()["w"]).max()
        same_bits = np.array_equal(cohort_tiled()["w"], cohort_files()["w"])
        runs = _interleaved(
            {
                BOUND: bound,
                "Cohort TiledMean, from files (FedAvg)": cohort_tiled,
                "Cohort WeightedMean, in memory (SCAFFOLD)": cohort_memory,
                "Cohort WeightedMean, from files (FedAvg before)": cohort_files,
            },
            repeat,
        )
    gigabytes = n_params * 4 * n_updates / 1e9
    rows: list[dict[str, object]] = []
    for name, times in runs.items():
        secs = median(times)
        ratios = [b / t for b, t in zip(runs[BOUND], times, strict=True)]
        rows.append(
            {
                "what": name,
                "seconds": round(secs, 3),
                "gb_per_s": round(gigabytes / secs, 2),
                "fraction_of_bound": round(median(ratios), 3),
                "runs": [round(t, 3) for t in times],
            }
        )
    rows[0]["max_abs_diff_vs_cohort"] = float(check)
    rows[1]["same_bits_as_running_fold"] = bool(same_bits)
    return rows


def main() -> None:
    """Measure and write benchmarks/results/aggregation.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=25_000_000)
    parser.add_argument("--updates", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = measure(args.params, args.updates, args.repeat)
    for row in rows:
        print(row)
    save_results("aggregation", rows, params=args.params, updates=args.updates)


if __name__ == "__main__":
    main()
