"""Each example runs unchanged on a real federation (server and three site agents over mTLS on
loopback) and ends with the global model the simulator gives for the same job (2 rounds here,
to keep the test short). hello-pt is skipped without PyTorch."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.examples.helpers import EXAMPLES
from tests.integration.federation import Federation, run_job, running_federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("examples_poc")]

HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Server and three sites, shared: each example runs as its own job on them."""
    with running_federation(tmp_path_factory, 3) as federation:
        yield federation


def _two_rounds(example: str, dest: Path) -> Path:
    job = dest / example
    shutil.copytree(EXAMPLES / example / "job", job, ignore=shutil.ignore_patterns("__pycache__"))
    config = job / "app" / "config" / "config_fed_server.json"
    server = json.loads(config.read_text())
    server["args"]["num_rounds"] = 2
    config.write_text(json.dumps(server))
    return job


@pytest.mark.parametrize(
    ("example", "floor"),
    [
        ("hello-sklearn", 0.95),
        ("fedprox-heterogeneous", 0.45),  # 0.564 after 2 rounds with 3 sites
        ("cross-site-eval", 0.55),  # 0.690 (mean of the sites' own validation data)
        pytest.param(
            "hello-pt",
            0.85,  # 0.942 after 2 rounds with 3 sites
            marks=pytest.mark.skipif(not HAVE_TORCH, reason="hello-pt needs the torch extra"),
        ),
    ],
)
def test_example_on_a_real_federation_matches_the_simulator(
    example: str, floor: float, fed: Federation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    job = _two_rounds(example, tmp_path / "jobs")
    real = run_job(fed, job, tmp_path / "real")
    summary = json.loads((real / "workspace" / "metrics_summary.json").read_text())
    assert summary["rounds"][-1]["metrics"]["accuracy"] >= floor, summary

    sim = simulate(job, 3, workspace=tmp_path / "sim", progress=False)
    assert sim.status == JobStatus.FINISHED_OK, sim.reason
    got = load_file(str(real / "workspace" / "FL_global_model.safetensors"))
    want = load_file(str(sim.global_model))
    assert set(got) == set(want)
    for name in want:
        assert np.array_equal(got[name], want[name]), name  # the same bits
