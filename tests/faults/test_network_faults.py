"""A real POC job whose sites reach the server through a proxy that cuts connections in the
middle of model downloads and result uploads: the transfers resume or retry, and the final
model is exactly the one a clean run computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.states import JobStatus
from tests.faults.proxy import Fault, FaultProxy
from tests.integration.federation import Federation, make_job

pytestmark = pytest.mark.xdist_group("federation")

#: Tensors of this many float32 each: 1.6 MB a model, 7 chunks of 256 KiB.
N = 200_000
CHUNK = 256 * 1024

SCRIPT = f"""
import numpy as np
import cohort.client as flare

flare.init()
index = int(flare.get_site_name().split("-")[-1])
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        params = {{"w": np.zeros({N}, np.float32), "b": np.arange({N}, dtype=np.float32)}}
        flare.send(flare.FLModel(params=params, meta={{"num_samples": 1}}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={{"w": float(model.params["w"][0])}}))
        continue
    params = {{"w": model.params["w"] + index, "b": model.params["b"]}}
    flare.send(flare.FLModel(params=params, meta={{"num_samples": index}}))
"""


def chunked_job(folder: Path, rounds: int) -> Path:
    """The job, with its sites moving models in chunks of CHUNK bytes."""
    make_job(folder, SCRIPT, num_rounds=rounds, min_clients=2, wait_after_min=30.0)
    config = folder / "app" / "config" / "config_fed_client.json"
    client = json.loads(config.read_text())
    client["env"] = {"COHORT_TRANSFER_CHUNK_BYTES": str(CHUNK)}
    config.write_text(json.dumps(client))
    return folder


def test_job_completes_through_cut_downloads_and_uploads(
    proxied: tuple[Federation, FaultProxy], tmp_path: Path
) -> None:
    fed, proxy = proxied
    # Each fault fires twice: a connection is cut once it carried 600 KB one way, which only
    # a model transfer does (heartbeats and polls are a few KB).
    proxy.faults.cuts = [Fault("down", 600_000, times=2), Fault("up", 600_000, times=2)]
    # A flipped byte under TLS fails the record's MAC: the site sees a broken connection.
    proxy.faults.corrupts = [Fault("down", 900_000, times=1)]
    proxy.faults.delay = 0.001
    fed.start()
    proxy.faults.drop = 2  # the next two connections (a script's first calls) are refused
    job_id = fed.submit(chunked_job(tmp_path / "job", rounds=2))
    record = fed.wait(job_id, timeout=240)
    assert record.status == JobStatus.FINISHED_OK, record
    assert proxy.faults.fired.get("cut-down") == 2, proxy.faults.fired
    assert proxy.faults.fired.get("cut-up") == 2, proxy.faults.fired
    assert proxy.faults.fired.get("corrupt-down") == 1, proxy.faults.fired
    assert proxy.faults.fired.get("drop") == 2, proxy.faults.fired
    out = fed.api.download_result(job_id, tmp_path / "result")
    model = load_file(str(out / "workspace" / "FL_global_model.safetensors"))
    # Sites 1 and 2 add their index, weighted by it: each round adds (1 + 4) / 3.
    np.testing.assert_array_equal(model["b"], np.arange(N, dtype=np.float32))
    np.testing.assert_allclose(model["w"], np.full(N, 2 * 5 / 3, np.float32), rtol=1e-6)
    # Every update was counted once, whatever was retried; no upload session is left over.
    trained = [r for r in fed.api.rounds(job_id) if r.round > 0]
    assert [r.num_updates for r in trained] == [2, 2]
    updates = fed.server_ws() / "artifacts" / "jobs" / job_id / "updates"
    assert not [p.name for p in updates.glob("*") if not p.name[0].isdigit()]
