"""How much time and memory a simulation takes: ``cohort simulate`` in a child process.

    .venv/bin/python benchmarks/simulate_scale.py -j examples/hello-numpy -n 1000 -t 2
    .venv/bin/python benchmarks/simulate_scale.py -j examples/hello-pt -n 8 -t 4 --backend processes

Prints one JSON line: wall seconds, the simulator's own peak RSS (for the processes back end
it adds each worker's peak), the kernel's peak RSS of the child process (``ru_maxrss``), the
job status and the final metrics.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--job", type=Path, required=True)
    parser.add_argument("-n", "--n-sites", type=int, required=True)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--backend", choices=["threads", "processes"], default="threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp:
        start = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "cohort.cli.main", "simulate", "-j", str(args.job),
             "-n", str(args.n_sites), "-t", str(args.threads), "--backend", args.backend,
             "-w", str(Path(tmp) / "ws"), "--no-progress", "--format", "json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - start
    child_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    data = json.loads(run.stdout)["data"]
    print(
        json.dumps(
            {
                "job": str(args.job),
                "n_sites": args.n_sites,
                "threads": args.threads,
                "backend": args.backend,
                "status": data["status"],
                "wall_s": round(wall, 1),
                "simulated_s": round(data["wall_seconds"], 1),
                "peak_rss_mb": round(data["peak_rss_mb"]),
                "child_max_rss_mb": round(child_peak_mb),
                "final_metrics": {k: round(v, 4) for k, v in data["final_metrics"].items()},
            }
        )
    )
    return 0 if data["status"] == "FINISHED_OK" else 1


if __name__ == "__main__":
    sys.exit(main())
