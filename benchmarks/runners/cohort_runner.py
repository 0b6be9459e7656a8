"""Cohort: ``cohort simulate`` for simulation, ``cohort poc`` (server and site agents on
loopback, mutual TLS) for deployment, on a job folder written here."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from harness import ROOT, MemorySampler, Tagged, fresh_dir, timed
from safetensors.numpy import load_file, save_file
from workloads import initial_params, parity_initial

from runners.spec import RunResult, RunSpec

APPS = ROOT / "benchmarks" / "apps"
COHORT = ROOT / ".venv" / "bin" / "cohort"
PYTHON = ROOT / ".venv" / "bin" / "python"


def write_job(folder: Path, spec: RunSpec) -> Path:
    """A Cohort job folder: FedAvg with the given initial model, no final validation."""
    custom = folder / "app" / "custom"
    custom.mkdir(parents=True)
    (folder / "app" / "config").mkdir()
    shutil.copy(APPS / "cohort" / "train.py", custom / "train.py")
    shutil.copy(ROOT / "benchmarks" / "workloads.py", custom / "workloads.py")
    # A job folder may hold 50 MB: a larger initial model comes from the first site instead.
    ship_model = spec.workload == "parity" or spec.params * 4 <= 16 * 2**20
    if ship_model:
        init = parity_initial() if spec.workload == "parity" else initial_params(spec.params)
        model = {f"p{i}": a for i, a in enumerate(init)}
        save_file(model, str(folder / "app" / "initial.safetensors"))
    meta = {"name": f"bench-{spec.workload}", "deploy_map": {"app": ["@ALL"]}}
    meta["min_clients"] = spec.sites
    server = {
        "workflow": "fedavg",
        "args": {
            "num_rounds": spec.rounds,
            "task_timeout": spec.timeout,
            "wait_after_min": 0.0,
            "initial_model": "initial.safetensors" if ship_model else None,
            "final_validation": False,
        },
    }
    client = {"script": "custom/train.py", "args": [spec.workload, str(spec.params)], "env": {}}
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "app" / "config" / "config_fed_server.json").write_text(json.dumps(server))
    (folder / "app" / "config" / "config_fed_client.json").write_text(json.dumps(client))
    return folder


def _final(path: Path) -> list[np.ndarray]:
    tensors = load_file(str(path))
    return [tensors[k] for k in sorted(tensors)]


def run(spec: RunSpec) -> RunResult:
    """Run the spec on Cohort."""
    work = fresh_dir("cohort", f"{spec.workload}-{spec.mode}-{spec.sites}")
    job = write_job(work / "job", spec)
    with Tagged() as group, MemorySampler(group.tag) as mem, timed() as wall:
        if spec.mode == "sim":
            ws = work / "ws"
            group.run(
                [COHORT, "simulate", "-j", job, "-n", str(spec.sites), "-w", ws, "--no-progress"],
                log=work / "simulate.log",
                timeout=spec.timeout,
            )
            models = [ws / "models" / f"round-{r}.safetensors" for r in range(spec.rounds + 1)]
            times = [m.stat().st_mtime for m in models]
            final = _final(models[-1])
        else:
            out = work / "poc.json"
            group.run(
                [
                    PYTHON,
                    Path(__file__).with_name("cohort_poc_child.py"),
                    job,
                    str(spec.sites),
                    out,
                ],
                log=work / "poc.log",
                timeout=spec.timeout,
                cwd=ROOT,
            )
            data = json.loads(out.read_text())
            times, final = data["created"], _final(Path(data["final"]))
    return RunResult(times, mem.peak_mb, wall[0], final, work)


if __name__ == "__main__":  # a quick manual check: python runners/cohort_runner.py sim 2
    spec = RunSpec("overhead", int(sys.argv[2]), 5, 1_000_000, sys.argv[1])  # type: ignore[arg-type]
    t0 = time.monotonic()
    res = run(spec)
    print(res.model_times, res.peak_mb, res.wall_s, time.monotonic() - t0)
