"""Run one job on a fresh Cohort POC (server + site agents on loopback) and stop it.

    python cohort_poc_child.py JOB_DIR N_SITES OUT_JSON

Runs as its own process so that everything it starts carries the benchmark's tag; writes the
creation time of every global model, the arrival time of each round's last update (read from
the server's store once it stopped) and the final model's path to OUT_JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cohort.admin.api import AdminAPI
from cohort.provision.kit import load_kit
from cohort.provision.poc import prepare_poc
from cohort.provision.processes import start_poc, stop_poc
from cohort.store import open_store


def main() -> None:
    """Prepare, start, submit, wait, record, stop."""
    job, n_sites, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    tmp = out.parent / "poc"
    os.environ["COHORT_HOME"] = str(tmp / "home")
    layout = prepare_poc(tmp / "poc", n_sites)
    start_poc(layout, timeout=300)
    try:
        with AdminAPI(load_kit(layout.admin_kit)) as api:
            job_id = api.submit_job(job)
            record = api.wait_job(job_id, timeout=1800)
            if record.status != "FINISHED_OK":
                raise SystemExit(f"job ended {record.status}: {record.status_reason}")
            rounds = api.rounds(job_id)
    finally:
        stop_poc(layout)
    last = f"jobs/{job_id}/models/round-{rounds[-1].round}.safetensors"
    final = next(p for p in layout.workspace.rglob("round-*.safetensors") if str(p).endswith(last))
    store = open_store(None, layout.workspace / "workspaces" / "server")  # start_poc's layout
    try:
        last_update = {
            r.round: max((u.received for u in store.list_updates(job_id, r.round)), default=None)
            for r in rounds
        }
    finally:
        store.close()
    data = {
        "created": [r.created for r in rounds],
        "last_update": [last_update[r.round] for r in rounds],
        "final": str(final),
    }
    out.write_text(json.dumps(data))


if __name__ == "__main__":
    main()
