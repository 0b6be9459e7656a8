"""Flower 1.42.0: the app in ``benchmarks/apps/flower`` (ServerApp + ClientApp, FedAvg) run
with ``flwr run`` against a local SuperLink: with its simulation runtime (Ray) for
simulation, with one ``flower-supernode`` process per site for deployment on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
from harness import ROOT, BenchError, MemorySampler, Tagged, last_error, timed, wait_for
from peers_setup import is_installed, venv_dir

from runners.spec import RunResult, RunSpec, stage

APP = ROOT / "benchmarks" / "apps" / "flower"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(work: Path) -> dict[str, str]:
    bin_dir = venv_dir("flower") / "bin"
    import os

    return {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "FLWR_HOME": str(work / "flwr-home"),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray's node start-up times out on a busy 2-core machine with the default 60 s.
        "RAY_raylet_start_wait_time_s": "300",
        "VIRTUAL_ENV": str(venv_dir("flower")),
    }


def run(spec: RunSpec) -> RunResult:
    """Run the spec on Flower."""
    if not is_installed("flower"):
        raise BenchError("Flower is not installed: run benchmarks/peers_setup.py")
    work, app = stage("flower", spec, APP, "benchapp")
    port = free_port()
    home = work / "flwr-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[superlink.bench]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
    )
    env, out = _env(work), work / "out"
    superlink_log = work / "superlink.log"
    link = [
        "flower-superlink", "--insecure", "--isolation", "subprocess", "--port", str(port),
        "--database", str(work / "state.db"), "--disable-runtime-dependency-installation",
    ]  # fmt: skip
    run_config = (
        f"workload='{spec.workload}' num-params={spec.params} num-rounds={spec.rounds} "
        f"num-sites={spec.sites} out='{out}'"
    )
    cmd = ["flwr", "run", ".", "bench", "--run-config", run_config, "--stream"]
    if spec.mode == "sim":
        link.append("--simulation")
        cmd += [
            "--federation-config",
            f"num-supernodes={spec.sites} client-resources-num-cpus=1",
        ]
    with Tagged() as group, MemorySampler(group.tag) as mem, timed() as wall:
        group.start(link, log=superlink_log, env=env, cwd=work)
        wait_for(
            lambda: "startup complete" in superlink_log.read_text(errors="replace"),
            120,
            "the Flower SuperLink",
        )
        if spec.mode == "poc":
            for i in range(spec.sites):
                node = [
                    "flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{port}",
                    "--port", str(free_port()),
                    "--node-config", f"partition-id={i} num-partitions={spec.sites}",
                ]  # fmt: skip
                group.start(node, log=work / f"supernode-{i}.log", env=env, cwd=work)
        group.run(cmd, log=work / "run.log", env=env, cwd=app, timeout=spec.timeout)
    times_file = Path(f"{out}.times.jsonl")
    if not times_file.exists():
        raise BenchError(f"Flower wrote no round times; see {work}/run.log")
    rows = [json.loads(line) for line in times_file.read_text().splitlines()]
    times = [r["t"] for r in sorted(rows, key=lambda r: r["round"])]
    if len(times) != spec.rounds + 1:
        why = last_error(work / "run.log")
        raise BenchError(f"Flower finished {len(times) - 1} of {spec.rounds} rounds: {why}")
    with np.load(f"{out}.final.npz") as npz:
        final = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    return RunResult(times, mem.peak_mb, wall[0], final, work)
