"""Framework cost of a round in a real POC on loopback (server + N site agents, mTLS).

The site script does almost no work (adds a constant to each array), so the time between
consecutive global models is what Cohort itself spends per round: task hand-out, model
download, upload, checks, storage, aggregation. Also reports how long `poc start` takes.

    .venv/bin/python benchmarks/round_overhead.py --sites 2 --params 1000000 --rounds 6
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPT = """
import numpy as np
import cohort.client as flare

N = {n_params}
flare.init()
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        # a few arrays, as a real model has layers
        parts = [N // 2, N // 4, N - N // 2 - N // 4]
        params = {{f"layer{{i}}": np.zeros(p, dtype=np.float32) for i, p in enumerate(parts)}}
        flare.send(flare.FLModel(params=params, meta={{"num_samples": 1}}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={{"x": 1.0}}))
        continue
    params = {{k: v * 0.5 + 1.0 for k, v in model.params.items()}}
    flare.send(flare.FLModel(params=params, meta={{"num_samples": 10}}))
"""


def run(n_sites: int, n_params: int, rounds: int) -> dict[str, float]:
    """One POC run; returns POC start seconds and per-round seconds (rounds 2..N)."""
    from tests.integration.federation import make_job

    from cohort.admin.api import AdminAPI
    from cohort.provision.kit import load_kit
    from cohort.provision.poc import prepare_poc
    from cohort.provision.processes import start_poc, stop_poc

    tmp = Path(tempfile.mkdtemp(prefix="cohort-bench-"))
    os.environ["COHORT_HOME"] = str(tmp / "home")
    layout = prepare_poc(tmp / "poc", n_sites)
    t0 = time.monotonic()
    start_poc(layout, timeout=120)
    poc_start = time.monotonic() - t0
    try:
        job = make_job(
            tmp / "job",
            SCRIPT.format(n_params=n_params),
            num_rounds=rounds,
            min_clients=n_sites,
            wait_after_min=0.0,
        )
        with AdminAPI(load_kit(layout.admin_kit)) as api:
            t1 = time.monotonic()
            job_id = api.submit_job(job)
            record = api.wait_job(job_id, timeout=600)
            total = time.monotonic() - t1
            assert record.status == "FINISHED_OK", record
            created = [r.created for r in api.rounds(job_id)]
    finally:
        stop_poc(layout)
    per_round = [b - a for a, b in itertools.pairwise(created[1:])]
    return {
        "sites": n_sites,
        "params": n_params,
        "poc_start_s": round(poc_start, 3),
        "job_total_s": round(total, 3),
        "round_median_s": round(statistics.median(per_round), 4),
        "round_max_s": round(max(per_round), 4),
    }


def main() -> None:
    """Parse arguments and print one JSON line per repetition."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.repeat):
        print(json.dumps(run(args.sites, args.params, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
