"""FedAvg against FedProx on a strongly non-IID split, both in the simulator, as a table.

    python examples/fedprox-heterogeneous/demo.py [--sites 10] [--rounds 10] [--mu 0.1]

Runs the job twice with the same seed and data: as written (workflow ``fedprox``) and with
the workflow switched to ``fedavg``; prints each round's global test accuracy side by side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cohort.simulate import SimulationResult, simulate

HERE = Path(__file__).resolve().parent


def job_variant(dest: Path, workflow: str, rounds: int, mu: float) -> Path:
    """A copy of the job with its workflow, rounds and ``mu`` set."""
    job = dest / workflow
    shutil.copytree(HERE / "job", job, ignore=shutil.ignore_patterns("__pycache__"))
    config = job / "app" / "config" / "config_fed_server.json"
    server = json.loads(config.read_text())
    server["workflow"] = workflow
    server["args"]["num_rounds"] = rounds
    if workflow == "fedprox":
        server["args"]["mu"] = mu
    else:
        server["args"].pop("mu", None)
    config.write_text(json.dumps(server))
    return job


def accuracies(result: SimulationResult) -> list[float]:
    """Test accuracy of each round's global model, round 0 (the initial model) first."""
    return [float(r["metrics"]["accuracy"]) for r in result.rounds]


def compare(sites: int, rounds: int, mu: float, work: Path) -> dict[str, SimulationResult]:
    """Run FedAvg and FedProx on the same sites; the two results by workflow name."""
    results = {}
    for workflow in ("fedavg", "fedprox"):
        job = job_variant(work / "jobs", workflow, rounds, mu)
        results[workflow] = simulate(job, sites, workspace=work / workflow, progress=False)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--mu", type=float, default=0.1)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="cohort-fedprox-") as tmp:
        results = compare(args.sites, args.rounds, args.mu, Path(tmp))
    for name, result in results.items():
        if not result.ok:
            console.print(f"{name} failed: {result.reason}")
            return 1
    table = Table("round", "FedAvg", f"FedProx (mu {args.mu:g})", title="global test accuracy")
    for r, (a, b) in enumerate(zip(*(accuracies(x) for x in results.values()), strict=True)):
        table.add_row("initial" if r == 0 else str(r), f"{a:.4f}", f"{b:.4f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
