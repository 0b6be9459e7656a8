"""NVIDIA FLARE 2.9.0: ``benchmarks/apps/nvflare/job.py`` (NumpyFedAvgRecipe, client API
script) run with ``SimEnv`` for simulation, or exported and submitted to an ``nvflare poc``
(server and one client process per site on loopback) for deployment.

Round times come from the server log: "Round k started." opens round k (k from 0), so it
marks global model k; "Finished FedAvg." marks the last one.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from harness import ROOT, BenchError, MemorySampler, Tagged, timed, wait_for
from peers_setup import is_installed, venv_bin, venv_python

from runners.spec import RunResult, RunSpec, stage

APP = ROOT / "benchmarks" / "apps" / "nvflare"
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})")
ROUND = re.compile(r"Round (\d+) started\.")
# SimEnv leaves the simulator's default cap of 100 clients; the CLI's -m lifts it.
SIM_ENV_MAX_CLIENTS = 100


def round_times(log: str) -> list[float]:
    """Times of global models 0..N from an NVFlare server log."""
    last, times = 0.0, []
    for line in log.splitlines():
        if m := STAMP.match(line):
            stamp = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
            last = stamp + int(m.group(2)) / 1000
        if ROUND.search(line) or "Finished FedAvg." in line:
            times.append(last)
    return times


def _env(work: Path) -> dict[str, str]:
    # NVFlare keeps state under ~/.nvflare and its POC under /tmp/nvflare: keep both private.
    return {"HOME": str(work / "home"), "NVFLARE_POC_WORKSPACE": str(work / "poc")}


def run(spec: RunSpec) -> RunResult:
    """Run the spec on NVIDIA FLARE (overhead workload only: parity is with Flower)."""
    if not is_installed("nvflare"):
        raise BenchError("NVIDIA FLARE is not installed: run benchmarks/peers_setup.py")
    work, app = stage("nvflare", spec, APP, ".")
    (work / "home").mkdir()
    env = _env(work)
    job_args = ["--sites", str(spec.sites), "--rounds", str(spec.rounds)]
    job_args += ["--params", str(spec.params)]
    with Tagged() as group, MemorySampler(group.tag) as mem, timed() as wall:
        if spec.mode == "sim" and spec.sites <= SIM_ENV_MAX_CLIENTS:
            cmd = [venv_python("nvflare"), "job.py", *job_args, "--workspace", str(work / "ws")]
            group.run(cmd, log=work / "run.log", env=env, cwd=app, timeout=spec.timeout)
            times = round_times((work / "run.log").read_text(errors="replace"))
        elif spec.mode == "sim":
            times = _run_simulator_cli(spec, work, app, job_args, env, group)
        else:
            times = _run_poc(spec, work, app, job_args, env, group)
    if len(times) != spec.rounds + 1:
        raise BenchError(f"NVFlare logged {len(times)} round marks, not {spec.rounds + 1}: {work}")
    return RunResult(times, mem.peak_mb, wall[0], [], work)


def _export(work: Path, app: Path, job_args: list[str], env: dict[str, str], group: Tagged) -> Path:
    """Export the recipe as a job folder (the recipe's own --export flags)."""
    job_dir = work / "job"
    group.run(
        [venv_python("nvflare"), "job.py", *job_args, "--export", "--export-dir", str(job_dir)],
        log=work / "export.log", env=env, cwd=app, timeout=300,
    )  # fmt: skip
    return job_dir


def _run_simulator_cli(
    spec: RunSpec, work: Path, app: Path, job_args: list[str], env: dict[str, str], group: Tagged
) -> list[float]:
    """More sites than SimEnv allows: the exported job through ``nvflare simulator -m N``."""
    job_dir = _export(work, app, job_args, env, group) / "bench"  # export nests the job's name
    threads = str(min(spec.sites, os.cpu_count() or 1))
    cmd = [str(venv_bin("nvflare", "nvflare")), "simulator", str(job_dir), "-w", str(work / "ws")]
    cmd += ["-n", str(spec.sites), "-t", threads, "-m", str(spec.sites)]
    group.run(cmd, log=work / "run.log", env=env, cwd=work, timeout=spec.timeout)
    return round_times((work / "run.log").read_text(errors="replace"))


def _run_poc(
    spec: RunSpec, work: Path, app: Path, job_args: list[str], env: dict[str, str], group: Tagged
) -> list[float]:
    nvflare = str(venv_bin("nvflare", "nvflare"))
    job_dir = _export(work, app, job_args, env, group)
    group.run(
        [nvflare, "poc", "prepare", "-n", str(spec.sites), "--force"],
        log=work / "prepare.log", env=env, cwd=work, timeout=300,
    )  # fmt: skip
    group.run([nvflare, "poc", "start", "--no-wait"], log=work / "start.log", env=env,
              cwd=work, timeout=300)  # fmt: skip
    try:
        wait_for(lambda: _connected(work, spec.sites), 600, "the NVFlare clients to connect")
        group.run(
            [nvflare, "job", "submit", "-j", str(job_dir), "--startup-kit", str(_admin_kit(work))],
            log=work / "submit.log", env=env, cwd=work, timeout=300,
        )  # fmt: skip
        wait_for(lambda: "Finished FedAvg." in _job_logs(work), spec.timeout, "the NVFlare job")
        server_log = _job_log_path(work)
        return round_times(server_log.read_text(errors="replace")) if server_log else []
    finally:
        group.run([nvflare, "poc", "stop"], log=work / "stop.log", env=env, cwd=work,
                  timeout=300)  # fmt: skip


def _connected(work: Path, n_sites: int) -> bool:
    """Whether every client has registered with the server (its log says so)."""
    log = next((work / "poc").rglob("server/log.txt"), None)
    if log is None:
        return False
    text = log.read_text(errors="replace")
    return max((int(n) for n in re.findall(r"Total clients: (\d+)", text)), default=0) >= n_sites


def _admin_kit(work: Path) -> Path:
    """The POC's admin startup kit."""
    return next((work / "poc").rglob("prod_00/admin@nvidia.com"))


def _job_log_path(work: Path) -> Path | None:
    for path in (work / "poc").rglob("server/*/log.txt"):
        if "Round 0 started." in path.read_text(errors="replace"):
            return path
    return None


def _job_logs(work: Path) -> str:
    path = _job_log_path(work)
    return path.read_text(errors="replace") if path else ""
