"""Soak runs of a real Cohort POC (not part of `make test`; `make soak` runs both).

- ``big``: a large model (default 2.5 GB, five float32 arrays) through 2 sites for 2 rounds:
  seconds per round, the bytes a round moves per second, and the peak resident memory of
  every process (server API, server job process, each site agent and each site's script).
- ``long``: 200 short rounds with 4 sites: the resident memory of the server and site
  processes when round 10 and round 200 complete (flat when nothing leaks).

    .venv/bin/python benchmarks/soak.py big --mb 2560
    .venv/bin/python benchmarks/soak.py long --rounds 200 --sites 4

Writes benchmarks/results/soak-<mode>.json and prints it. The POC runs under a temporary
folder, removed at the end with everything in it (models of 2.5 GB take several times that
on disk while the job runs: check ``df -h /tmp`` first).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cohort.admin.api import AdminAPI
from cohort.provision.kit import load_kit
from cohort.provision.poc import PocLayout, prepare_poc
from cohort.provision.processes import poc_pids, start_poc, stop_poc

RESULTS = Path(__file__).parent / "results"
TAG = "COHORT_SOAK_TAG"

SCRIPT = """
import numpy as np
import cohort.client as flare

SIZES = {sizes}
flare.init()
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        params = {{f"layer{{i}}": np.zeros(n, np.float32) for i, n in enumerate(SIZES)}}
        flare.send(flare.FLModel(params=params, meta={{"num_samples": 1}}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={{"x": 1.0}}))
        continue
    for array in model.params.values():
        array += 1.0  # in place: the script holds one model
    flare.send(flare.FLModel(params=model.params, meta={{"num_samples": 1}}))
"""


def write_job(folder: Path, sizes: list[int], rounds: int, sites: int) -> Path:
    """A FedAvg job whose sites add 1 to a model of float32 arrays of ``sizes``."""
    app = folder / "app"
    (app / "config").mkdir(parents=True)
    (app / "custom").mkdir()
    meta = {"name": folder.name, "deploy_map": {"app": ["@ALL"]}, "min_clients": sites}
    (folder / "meta.json").write_text(json.dumps(meta))
    server = {
        "workflow": "fedavg",
        "args": {
            "num_rounds": rounds,
            "task_timeout": 3600,
            "wait_after_min": 60,
            "final_validation": False,
        },
    }
    (app / "config" / "config_fed_server.json").write_text(json.dumps(server))
    (app / "config" / "config_fed_client.json").write_text(
        json.dumps({"script": "custom/train.py"})
    )
    (app / "custom" / "train.py").write_text(SCRIPT.format(sizes=sizes))
    return folder


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class RoleSampler:
    """Peak and current resident memory of each process of the POC, by role."""

    def __init__(self, layout: PocLayout, tag: str, interval: float = 0.2) -> None:
        self.layout, self.tag, self.interval = layout, tag, interval
        self.peak: dict[str, int] = {}
        self.current: dict[str, int] = {}
        self._roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _role(self, pid: int, leaders: dict[int, str]) -> str | None:
        if pid in leaders:
            return "server API" if leaders[pid] == "server" else f"{leaders[pid]} agent"
        env = _environ(pid)
        if env.get(TAG) != self.tag:
            return None
        line = _cmdline(pid)
        if "cohort.server.job_process" in line:
            return "server job process"
        if "cohort.site.script_main" in line:
            return f"{env.get('COHORT_SITE_NAME', '?')} script"
        return None

    def scan(self) -> None:
        """Find the POC's processes (new job processes and scripts appear as jobs start)."""
        leaders = {pid: name for name, pid in poc_pids(self.layout).items()}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in self._roles:
                role = self._role(int(entry.name), leaders)
                if role is not None:
                    self._roles[int(entry.name)] = role

    def sample(self) -> None:
        """Record every known process's resident and peak resident memory."""
        current: dict[str, int] = {}
        for pid, role in list(self._roles.items()):
            status = _status(pid)
            if not status:
                continue
            current[role] = status.get("VmRSS", 0)
            self.peak[role] = max(self.peak.get(role, 0), status.get("VmHWM", 0))
        self.current = current

    def _loop(self) -> None:
        last_scan = 0.0
        while not self._stop.is_set():
            if time.monotonic() - last_scan > 1.0:
                self.scan()
                last_scan = time.monotonic()
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RoleSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _mb(values: dict[str, int]) -> dict[str, float]:
    return {k: round(v / 2**20, 1) for k, v in sorted(values.items())}


def run(mb: int, sites: int, rounds: int, watch: tuple[int, ...] = ()) -> dict[str, Any]:
    """One POC job; the round times, per-role peaks, and per-role memory at ``watch`` rounds."""
    params = mb * 2**20 // 4
    sizes = [params // 5] * 4 + [params - 4 * (params // 5)]
    tmp = Path(tempfile.mkdtemp(prefix="cohort-soak-"))
    tag = uuid.uuid4().hex
    os.environ[TAG] = tag
    os.environ["COHORT_HOME"] = str(tmp / "home")
    layout = prepare_poc(tmp / "poc", sites)
    at_round: dict[str, dict[str, float]] = {}
    try:
        start_poc(layout, timeout=300)
        with RoleSampler(layout, tag) as sampler, AdminAPI(load_kit(layout.admin_kit)) as api:
            job_id = api.submit_job(write_job(tmp / "job", sizes, rounds, sites))
            started = time.monotonic()
            pending = sorted(watch)

            def on_poll(record: Any) -> None:
                while pending and (record.current_round or 0) >= pending[0]:
                    # The watched round has started: every process is up and has done
                    # the rounds before it.
                    sampler.scan()
                    sampler.sample()
                    at_round[str(pending.pop(0))] = _mb(sampler.current)

            record = api.wait_job(job_id, timeout=7200, poll=1.0, on_poll=on_poll)
            wall = time.monotonic() - started
            created = [r.created for r in api.rounds(job_id)]
            sampler.sample()
            peaks = _mb(sampler.peak)
    finally:
        stop_poc(layout)
        shutil.rmtree(tmp, ignore_errors=True)
    if record.status != "FINISHED_OK":
        raise SystemExit(f"job ended {record.status}: {record.status_reason}")
    gaps = [b - a for a, b in itertools.pairwise(created)]
    model_bytes = params * 4
    out: dict[str, Any] = {
        "model_mb": mb,
        "sites": sites,
        "rounds": rounds,
        "wall_s": round(wall, 1),
        "peak_rss_mb": peaks,
        "server_peak_over_model": round(
            (peaks.get("server job process", 0) + peaks.get("server API", 0)) * 2**20 / model_bytes,
            2,
        ),
    }
    if gaps:
        best = min(gaps)
        out["round_s"] = round(best, 2)
        out["mb_per_s"] = round(2 * sites * model_bytes / best / 1e6, 1)
    if at_round:
        out["rss_mb_at_round"] = at_round
    return out


def main() -> None:
    """Run one soak mode and save its result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["big", "long"])
    parser.add_argument("--mb", type=int, default=None)
    parser.add_argument("--sites", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "big":
        result = run(args.mb or 2560, args.sites or 2, args.rounds or 2)
    else:
        rounds = args.rounds or 200
        result = run(args.mb or 1, args.sites or 4, rounds, watch=(10, rounds))
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"soak-{args.mode}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
