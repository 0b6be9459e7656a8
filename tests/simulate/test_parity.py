"""Sim-to-real parity: hello-numpy in the simulator and on a real federation (server and three
site agents over mTLS on loopback) ends with the same global model, round by round."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.schemas.records import JobRecord
from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.integration.federation import Federation
from tests.simulate.conftest import HELLO

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert set(a) == set(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)


def test_simulation_gives_the_global_model_of_a_real_federation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    sim = simulate(HELLO, 3, workspace=tmp_path / "sim", progress=False)
    assert sim.status == JobStatus.FINISHED_OK, sim.reason

    (tmp_path / "fed").mkdir()
    federation = Federation(tmp_path / "fed", 3)
    try:
        federation.start()
        job_id = federation.submit(HELLO)
        record = federation.wait(job_id, timeout=180)
        assert record.status == JobStatus.FINISHED_OK, record
        real = federation.api.download_result(job_id, tmp_path / "real")
    finally:
        federation.stop()

    # The same sites, and every global model of the trail (the final one included) the same.
    real_meta = JobRecord.model_validate_json((real / "meta.json").read_text())
    sim_meta = JobRecord.model_validate_json((sim.result_dir / "meta.json").read_text())
    assert real_meta.sites == sim_meta.sites == ["site-1", "site-2", "site-3"]
    real_models = sorted((real / "workspace" / "models").glob("round-*.safetensors"))
    sim_models = sorted((sim.result_dir / "workspace" / "models").glob("round-*.safetensors"))
    assert [p.name for p in real_models] == [p.name for p in sim_models]
    assert len(sim_models) == 6
    diffs = {
        p.name: _max_diff(load_file(str(p)), load_file(str(q)))
        for p, q in zip(sim_models, real_models, strict=True)
    }
    final = _max_diff(
        load_file(str(sim.global_model)),
        load_file(str(real / "workspace" / "FL_global_model.safetensors")),
    )
    print(f"max abs diff per round {diffs}, final model {final}")  # the measured parity
    assert final <= 1e-6 and all(d <= 1e-6 for d in diffs.values()), diffs

    # The sites' evaluations agree too, and the result folders have the same files.
    real_summary = json.loads((real / "workspace" / "metrics_summary.json").read_text())
    sim_summary = json.loads((sim.result_dir / "workspace" / "metrics_summary.json").read_text())
    for got, want in zip(sim_summary["rounds"], real_summary["rounds"], strict=True):
        assert got["round"] == want["round"]
        assert got["metrics"] == pytest.approx(want["metrics"], abs=1e-6)

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    assert files(sim.result_dir) == files(real)
