"""A real federation for tests: server and site agents as separate processes over mTLS on
127.0.0.1, each in its own process group so a test can kill any of them, and all of them
stopped when the test ends, whatever happened."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cohort.admin.api import AdminAPI
from cohort.provision.kit import load_kit
from cohort.provision.poc import PocLayout, prepare_poc
from cohort.provision.processes import wait_until_connected
from cohort.schemas.records import JobRecord
from cohort.states import JobStatus

ROOT = Path(__file__).resolve().parents[2]
HELLO_NUMPY = ROOT / "examples" / "hello-numpy" / "job"


def job_pids(job_id: str) -> list[int]:
    """Pids of every live process that belongs to a job (its environment names the job)."""
    needle = f"COHORT_JOB_ID={job_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_no_job_processes(job_id: str, timeout: float = 30.0) -> None:
    """Wait until no process of the job is left; fail naming the leftovers at the deadline.

    A job's processes exit shortly after its terminal status is written (the server job
    process returns, a site's script leaves its loop), so checking once would race them.
    """
    deadline = time.monotonic() + timeout
    while left := job_pids(job_id):
        if time.monotonic() > deadline:
            described = {p: cmdline(p) for p in left}
            raise AssertionError(f"job {job_id} still has processes after {timeout} s: {described}")
        time.sleep(0.2)


def cmdline(pid: int) -> str:
    """A process's command line, or '' once it has gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Federation:
    """Server plus sites on loopback; use as a context manager."""

    def __init__(
        self,
        tmp: Path,
        n_sites: int = 3,
        *,
        heartbeat_interval: float = 0.5,
        site_dead_after: float = 3.0,
        job_log_streaming: bool = True,
        layout: PocLayout | None = None,
        server_args: list[str] | None = None,
    ) -> None:
        self.tmp = tmp
        # A layout from `provision` (a multi-org project) or, by default, a fresh POC.
        self.layout: PocLayout = layout or prepare_poc(tmp / "poc", n_sites)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.heartbeat_interval = heartbeat_interval
        self.site_dead_after = site_dead_after
        # Like `cohort poc start`: sites stream job logs unless a test turns the default off.
        self.job_log_streaming = job_log_streaming
        self.server_args = list(server_args or [])  # more `cohort server start` options
        self.api = AdminAPI(load_kit(self.layout.admin_kit))
        self.logs = tmp / "logs"
        self.logs.mkdir(exist_ok=True)

    @property
    def sites(self) -> list[str]:
        """Names of every provisioned site."""
        return sorted(self.layout.site_kits)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        out = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "cohort.cli.main", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        out.close()

    def start_server(self, env: dict[str, str] | None = None) -> None:
        """Start (or restart) the server process, with ``env`` added to its environment."""
        self._spawn(
            "server",
            [
                "server", "start", "--kit", str(self.layout.server_kit),
                "--workspace", str(self.tmp / "server-ws"),
                "--heartbeat-interval", str(self.heartbeat_interval),
                "--site-dead-after", str(self.site_dead_after),
                *(["--job-log-streaming"] if self.job_log_streaming else []),
                *self.server_args,
            ],
            env,
        )  # fmt: skip

    def start_site(self, name: str) -> None:
        """Start (or restart) one site agent."""
        self._spawn(
            name,
            ["site", "start", "--kit", str(self.layout.site_kits[name]),
             "--workspace", str(self.tmp / f"{name}-ws")],
        )  # fmt: skip

    def start(self, sites: list[str] | None = None, timeout: float = 30.0) -> Federation:
        """Start the server and the given sites (all by default); wait until connected."""
        self.start_server()
        names = self.sites if sites is None else sites
        for name in names:
            self.start_site(name)
        wait_until_connected(self.layout, names, timeout)
        return self

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal a process's whole group and reap it."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(30)

    def submit(self, folder: Path = HELLO_NUMPY) -> str:
        """Submit a job folder as the admin."""
        return self.api.submit_job(folder)

    def wait(self, job_id: str, timeout: float = 120.0) -> JobRecord:
        """Wait for a job to end."""
        return self.api.wait_job(job_id, timeout=timeout)

    def wait_for(self, job_id: str, predicate: Any, timeout: float = 60.0) -> JobRecord:
        """Wait until ``predicate(record)`` holds; fail the test with the record if not."""
        deadline = time.monotonic() + timeout
        record = self.api.get_job(job_id)
        while not predicate(record):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s: {record}")
            record = self.api.get_job(job_id, since_version=record.version, wait=1.0)
        return record

    def server_ws(self) -> Path:
        """The server's workspace."""
        return self.tmp / "server-ws"

    def log_text(self, name: str) -> str:
        """What a process printed."""
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop everything: SIGTERM each group, then SIGKILL what is left, then reap."""
        self.api.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(deadline - time.monotonic(), 0.1))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def __enter__(self) -> Federation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_federation(
    factory: pytest.TempPathFactory,
    n_sites: int = 2,
    sites: list[str] | None = None,
    **kwargs: Any,
) -> Iterator[Federation]:
    """A started federation (the given ``sites``, all by default) with its own $COHORT_HOME,
    stopped on leaving (for module fixtures: one federation per test would dominate the run
    time)."""
    tmp = factory.mktemp("federation")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        federation = Federation(tmp, n_sites, **kwargs)
        try:
            federation.start(sites)
            yield federation
        finally:
            federation.stop()


def run_job(federation: Federation, job: Path, dest: Path, timeout: float = 300.0) -> Path:
    """Run ``job`` on a started federation; require FINISHED_OK; return its result folder,
    downloaded into ``dest``."""
    job_id = federation.submit(job)
    record = federation.wait(job_id, timeout=timeout)
    assert record.status == JobStatus.FINISHED_OK, record
    return federation.api.download_result(job_id, dest)


def make_job(
    folder: Path,
    script: str,
    *,
    num_rounds: int = 2,
    min_clients: int = 2,
    task_timeout: float = 60.0,
    scheduling_timeout: float = 300.0,
    wait_after_min: float = 10.0,
    sites: list[str] | None = None,
) -> Path:
    """Write a job folder whose sites run ``script`` (Python source) with FedAvg."""
    app = folder / "app"
    (app / "config").mkdir(parents=True)
    (app / "custom").mkdir()
    meta = {
        "name": folder.name,
        "deploy_map": {"app": [*sites, "server"] if sites else ["@ALL"]},
        "min_clients": min_clients,
        "scheduling_timeout": scheduling_timeout,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    server = {
        "workflow": "fedavg",
        "args": {
            "num_rounds": num_rounds,
            "task_timeout": task_timeout,
            "wait_after_min": wait_after_min,
        },
    }
    (app / "config" / "config_fed_server.json").write_text(json.dumps(server))
    (app / "config" / "config_fed_client.json").write_text(
        json.dumps({"script": "custom/train.py"})
    )
    (app / "custom" / "train.py").write_text(script)
    return folder


#: A tiny deterministic site script: the model is one vector; each site adds its index.
#: Extra behaviour is injected through the BEFORE_SEND hook (Python source, run each round).
TOY_SCRIPT = """
import os, sys, time
import numpy as np
import cohort.client as flare

flare.init()
site = flare.get_site_name()
index = int(site.split("-")[-1])
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.zeros(4, dtype=np.float32)}, meta={"num_samples": 1}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"score": float(model.params["w"].sum())}, meta={"num_samples": index}))
        continue
    rnd = model.current_round
#BEFORE_SEND
    w = model.params["w"] + index
    print(f"{site} round {rnd}", flush=True)
    flare.send(flare.FLModel(params={"w": w}, metrics={"score": float(model.params["w"].sum())}, meta={"num_samples": index}))
"""  # noqa: E501


def toy_script(before_send: str = "") -> str:
    """The toy script with extra code (indented 4 spaces) run before each train result."""
    return TOY_SCRIPT.replace("#BEFORE_SEND", before_send)
