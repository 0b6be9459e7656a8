"""Workload 3: a large model through a Cohort POC on loopback, next to the machine's own
loopback limit measured in the same run.

- loopback limit: one TCP stream between two processes on 127.0.0.1, ``sendall`` of the
  model's bytes into ``recv_into`` a reused buffer (no TLS, no HTTP, no copies);
- Cohort: server and 4 site agents (mutual TLS), 2 rounds of FedAvg on a model of the given
  size (three float32 arrays); seconds of round 2, the bytes a round moves (the model to
  every site and every update back) per second, and the server's peak memory (the API and
  job processes) next to the model's size.

    .venv/bin/python benchmarks/large_model.py --mb 1024      # the issue's 1 GB (~12 GB RAM)
    .venv/bin/python benchmarks/large_model.py --mb 256       # what `make bench` runs
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import time
from pathlib import Path

from harness import MemorySampler, Tagged, durations, fresh_dir, median, save_results
from runners.cohort_runner import PYTHON, write_job
from runners.spec import RunSpec

CHUNK = 4 * 2**20


def _receiver(port: int, total: int, ready: multiprocessing.synchronize.Event) -> None:
    with socket.create_server(("127.0.0.1", port)) as srv:
        ready.set()
        conn, _ = srv.accept()
        with conn:
            buf = memoryview(bytearray(CHUNK))
            got = 0
            while got < total:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                got += n
            conn.sendall(b"k")


def loopback_mb_s(total: int) -> float:
    """MB/s of one TCP stream of ``total`` bytes between two processes on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_receiver, args=(port, total, ready))
    proc.start()
    ready.wait(30)
    payload = memoryview(bytearray(CHUNK))
    with socket.create_connection(("127.0.0.1", port)) as conn:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            conn.sendall(payload[: min(CHUNK, total - sent)])
            sent += min(CHUNK, total - sent)
        conn.recv(1)
        secs = time.perf_counter() - start
    proc.join(30)
    return total / secs / 1e6


def cohort_round(mb: int, sites: int, rounds: int) -> dict[str, float | None]:
    """Round-2 seconds, achieved MB/s and peak memories of a Cohort POC job."""
    params = mb * 2**20 // 4
    spec = RunSpec("overhead", sites, rounds, params, "poc", timeout=3600)
    work = fresh_dir("cohort", f"large-{mb}")
    job = write_job(work / "job", spec)
    out = work / "poc.json"
    child = Path(__file__).parent / "runners" / "cohort_poc_child.py"
    with (
        Tagged() as group,
        MemorySampler(group.tag) as total,
        MemorySampler(group.tag, match="server") as server,
    ):
        group.run([PYTHON, child, job, str(sites), out], log=work / "poc.log", timeout=3600)
    result = json.loads(out.read_text())
    times = result["created"]
    round_s = min(durations(times))
    # From a round's last update arriving to its global model recorded: the aggregation and
    # the write, which nothing overlaps (rounds 1.., round 0 has no updates).
    tails = [c - u for c, u in zip(times, result.get("last_update", []), strict=False) if u]
    model_bytes = params * 4
    return {
        "round_s": round(round_s, 2),
        "tail_s": round(median(tails), 2) if tails else None,
        "mb_per_s": round(2 * sites * model_bytes / round_s / 1e6, 1),
        "server_peak_mb": round(server.peak_mb, 0),
        "server_peak_over_model": round(server.peak_mb * 2**20 / model_bytes, 2),
        "total_peak_mb": round(total.peak_mb, 0),
    }


def measure(mb: int, sites: int = 4, rounds: int = 2) -> list[dict[str, object]]:
    """Both measurements, the limit first."""
    limit = loopback_mb_s(mb * 2**20)
    cohort = cohort_round(mb, sites, rounds)
    row: dict[str, object] = {"model_mb": mb, "sites": sites, "rounds": rounds}
    row["loopback_limit_mb_per_s"] = round(limit, 1)
    row.update(cohort)
    row["fraction_of_limit"] = round(cohort["mb_per_s"] / limit, 3)
    return [row]


def main() -> None:
    """Measure and write benchmarks/results/large_model.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--sites", type=int, default=4)
    args = parser.parse_args()
    rows = measure(args.mb, args.sites)
    print(rows)
    save_results("large_model", rows)


if __name__ == "__main__":
    main()
