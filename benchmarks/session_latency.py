"""Latency of session API calls on a real POC on loopback (server + 2 site agents, mTLS).

A call the server answers itself (get_job_meta, ls on the server) costs one request; a command
on a site is relayed with the site's next heartbeat reply, so it costs up to one heartbeat
interval more (1 s by default, set here with --heartbeat).

    .venv/bin/python benchmarks/session_latency.py --calls 20 --heartbeat 1.0
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_ms(call: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    """Start a POC, time each kind of call, print one JSON line."""
    from tests.integration.federation import HELLO_NUMPY, Federation

    from cohort.admin import new_secure_session

    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Federation(Path(tmp), 2, heartbeat_interval=args.heartbeat) as fed,
    ):
        fed.start()
        start = time.perf_counter()
        sess = new_secure_session("admin@cohort.local", str(fed.layout.admin_kit))
        opened = time.perf_counter() - start
        try:
            job_id = sess.submit_job(str(HELLO_NUMPY))
            sess.wait_for_job(job_id, timeout=300, poll_interval=1)
            result = {
                "heartbeat_s": args.heartbeat,
                "new_secure_session_ms": round(opened * 1000, 1),
                "get_job_meta_ms": _median_ms(lambda: sess.get_job_meta(job_id), args.calls),
                "list_jobs_ms": _median_ms(sess.list_jobs, args.calls),
                "get_system_info_ms": _median_ms(sess.get_system_info, args.calls),
                "ls_target_server_ms": _median_ms(lambda: sess.ls_target("server"), args.calls),
                "ls_target_site_ms": _median_ms(lambda: sess.ls_target("site-1"), args.calls),
                "report_version_all_ms": _median_ms(
                    lambda: sess.report_version("all"), max(args.calls // 4, 1)
                ),
            }
        finally:
            sess.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
