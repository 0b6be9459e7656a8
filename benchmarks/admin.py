"""Workload 5: the admin side of a Cohort server with a large job history (Cohort only).

A 2-site POC whose store is seeded with ``--jobs`` finished jobs before the server starts,
then, over mutual TLS with the admin kit:

- ``list_jobs`` of every job, and of the newest 100 (``limit=100``): median latency;
- ``submit_job`` of a small job folder: median latency (the jobs ask for more sites than
  the POC has, so they wait instead of running and disturbing the other numbers);
- the REST ``GET /api/v1/status`` (seed 003, on the server's ``--rest-port`` listener with a
  Bearer key) from 50 concurrent clients, one kept-alive connection each: requests per
  second, median and p99 latency. ``GET /admin/v1/system`` (mutual TLS) is measured the same
  way next to it.

    .venv/bin/python benchmarks/admin.py [--jobs 10000] [--clients 50] [--requests 20]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from harness import fresh_dir, median, save_results

from cohort.admin.api import AdminAPI
from cohort.provision import free_port
from cohort.provision.kit import Kit, load_kit
from cohort.provision.poc import PocLayout, prepare_poc
from cohort.provision.processes import start_poc, stop_poc
from cohort.rest import FLClient
from cohort.states import JobStatus
from cohort.store import open_store


def seed(layout: PocLayout, n_jobs: int) -> float:
    """Insert ``n_jobs`` aborted jobs into the server's store; return the seconds it took."""
    store = open_store(None, layout.workspace / "workspaces" / "server")
    start = time.monotonic()
    meta = {"name": "seeded", "deploy_map": {"app": ["@ALL"]}, "min_clients": 1}
    for i in range(n_jobs):
        job_id = str(uuid.uuid4())
        store.create_job(
            job_id=job_id,
            name=f"seeded-{i}",
            study="default",
            submitter="admin@cohort.local",
            meta=meta,
            job_sha256="0" * 64,
            submit_time=time.time(),
        )
        store.set_job_status(job_id, JobStatus.ABORTED, reason="seeded", now=time.time())
    store.close()
    return time.monotonic() - start


def small_job(folder: Path) -> Path:
    """A FedAvg job that needs 3 sites: on a 2-site POC it waits in SUBMITTED."""
    custom = folder / "app" / "custom"
    custom.mkdir(parents=True)
    (folder / "app" / "config").mkdir()
    (custom / "train.py").write_text("import cohort.client as flare\nflare.init()\n")
    (folder / "meta.json").write_text(
        json.dumps({"name": "small", "deploy_map": {"app": ["@ALL"]}, "min_clients": 3})
    )
    (folder / "app" / "config" / "config_fed_server.json").write_text(
        json.dumps({"workflow": "fedavg", "args": {"num_rounds": 1}})
    )
    (folder / "app" / "config" / "config_fed_client.json").write_text(
        json.dumps({"script": "custom/train.py", "args": [], "env": {}})
    )
    return folder


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure(n_jobs: int, clients: int, requests: int) -> list[dict[str, object]]:
    """Seed, start, measure, stop; one row per measurement."""
    work = fresh_dir("cohort", "admin")
    os.environ["COHORT_HOME"] = str(work / "home")
    layout = prepare_poc(work / "poc", 2)
    seed_s = seed(layout, n_jobs)
    job = small_job(work / "job")
    rest_port = free_port()
    # The seed's default REST limit (100 requests a minute per key) would answer most of the
    # concurrent requests with 429; the benchmark measures the route, so the limit is raised.
    limit = f"general={10 * clients * (requests + 1)}/60"
    server_args = ["--rest-port", str(rest_port), "--rate-limit", limit]
    start_poc(layout, timeout=300, server_args=server_args)
    rows: list[dict[str, object]] = []
    try:
        kit = load_kit(layout.admin_kit)
        with AdminAPI(kit, timeout=300) as api:
            count = len(api.list_jobs())
            every = _timed(api.list_jobs, 5)
            newest = _timed(lambda: api.list_jobs(limit=100, reverse=True), 5)
            submits = _timed(lambda: api.submit_job(job), 5)
            key = api.create_token("project_admin", "benchmark").token
        rows.append({"what": f"list_jobs, all {count} jobs", "median_s": median(every)})
        rows.append({"what": "list_jobs, newest 100", "median_s": median(newest)})
        rows.append({"what": "submit_job, small job", "median_s": median(submits)})
        host = kit.server_url.split("://", 1)[1].rsplit(":", 1)[0]
        url = f"https://{host}:{rest_port}"
        what = f"REST GET /api/v1/status, {clients}"
        rows.append(_concurrent(lambda: _rest_caller(url, key, kit.ca), what, clients, requests))
        what = f"GET /admin/v1/system, {clients}"
        rows.append(_concurrent(lambda: _admin_caller(kit), what, clients, requests))
    finally:
        stop_poc(layout)
    for row in rows:
        row["seeded_jobs"] = n_jobs
        row["seed_s"] = round(seed_s, 1)
    return rows


def _rest_caller(url: str, key: str, ca: Path) -> Caller:
    client = FLClient(url, api_key=key, verify=ca, timeout=300)  # one kept-alive connection
    return client.get_server_status, client.close


def _admin_caller(kit: Kit) -> Caller:
    api = AdminAPI(kit, timeout=300)
    return api.system_info, api.close


Caller = tuple[Callable[[], object], Callable[[], None]]


def _concurrent(
    open_caller: Callable[[], Caller], what: str, clients: int, requests: int
) -> dict[str, object]:
    def worker() -> list[float]:
        call, close = open_caller()
        try:
            call()  # connect and handshake outside the timing
            return _timed(call, requests)
        finally:
            close()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [f.result() for f in [pool.submit(worker) for _ in range(clients)]]
    wall = time.perf_counter() - start
    latencies = sorted(t for r in results for t in r)
    return {
        "what": f"{what} concurrent clients x {requests}",
        "median_s": median(latencies),
        "p99_s": latencies[int(0.99 * (len(latencies) - 1))],
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def main() -> None:
    """Measure and write benchmarks/results/admin.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    rows = measure(args.jobs, args.clients, args.requests)
    for row in rows:
        print(row)
    save_results("admin", rows)


if __name__ == "__main__":
    main()
