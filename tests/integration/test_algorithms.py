"""Algorithm workflows in a real federation (server and 3 site processes over mTLS): the
server job process's own storage of work models and result files (cyclic hand-overs, the
cross-site matrix in the result zip, SCAFFOLD's control tensors through update validation),
each giving the same global model as the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.algorithms.realdata import real_job
from tests.integration.federation import Federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("algorithms")]

JOBS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("cross_site_eval", {"num_rounds": 3}, []),
    ("cyclic", {"num_rounds": 2, "order": "random", "seed": 1}, []),
    ("scaffold", {"num_rounds": 3}, ["--scaffold"]),
]


def test_workflows_in_a_real_federation_match_the_simulator(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    for workflow, args, extra in JOBS:
        script = ["--data", "wine", "--shares", "3", *extra]
        job = real_job(tmp_path / workflow / "job", workflow, args, script)
        job_id = federation.submit(job)
        record = federation.wait(job_id, timeout=300)
        assert record.status == JobStatus.FINISHED_OK, (workflow, record)
        out = federation.api.download_result(job_id, tmp_path / workflow / "result")
        real = load_file(str(out / "workspace" / "FL_global_model.safetensors"))
        summary = json.loads((out / "workspace" / "metrics_summary.json").read_text())
        assert summary["final_metrics"]["accuracy"] >= 0.9, workflow

        sim = simulate(job, 3, threads=2, workspace=tmp_path / workflow / "sim", progress=False)
        assert sim.status == JobStatus.FINISHED_OK, sim.reason
        simulated = load_file(str(sim.global_model))
        assert set(real) == set(simulated)
        for name in real:
            np.testing.assert_allclose(real[name], simulated[name], rtol=0, atol=1e-6)

        if workflow == "cross_site_eval":
            matrix = json.loads((out / "workspace" / "cross_site_eval.json").read_text())
            assert matrix["models"] == ["global", "site-1", "site-2", "site-3"]
            cells = [m for row in matrix["matrix"].values() for m in row.values()]
            assert len(cells) == 12 and all(c is not None and "accuracy" in c for c in cells)
            again = json.loads((sim.result_dir / "workspace" / "cross_site_eval.json").read_text())
            assert_same_matrix(again["matrix"], matrix["matrix"])
        if workflow == "scaffold":
            assert {"W", "b", "scaffold_c.W", "scaffold_c.b"} == set(real)


def assert_same_matrix(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Same evaluators, models and metrics, to 1e-6."""
    assert a.keys() == b.keys()
    for site, row in a.items():
        assert row.keys() == b[site].keys()
        for owner, cell in row.items():
            assert cell.keys() == b[site][owner].keys()
            for key, value in cell.items():
                assert value == pytest.approx(b[site][owner][key], abs=1e-6), (site, owner, key)
