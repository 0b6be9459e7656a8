"""examples/hello-pt in the simulator: the CNN reaches its stated accuracy floor, and the
platform's first global model is the FedAvg of the sites' training computed here directly.

Needs PyTorch (the ``torch`` extra: ``pip install -e '.[dev,torch]'`` or ``make test-torch``);
skipped without it, since ``make test`` installs only ``.[dev]``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.examples.helpers import EXAMPLES

torch = pytest.importorskip("torch", reason="hello-pt needs the torch extra")

from tests.examples.helpers import load_example_module  # noqa: E402  (imports torch)

lib = load_example_module("hello-pt", "hello_pt_lib")
#: README: 3 sites reach 0.969 after 4 rounds (0.972 after the example's 10).
ACCURACY_FLOOR = 0.9


def _example_copy(dest: Path, num_rounds: int) -> Path:
    job = dest / "hello-pt"
    shutil.copytree(
        EXAMPLES / "hello-pt" / "job", job, ignore=shutil.ignore_patterns("__pycache__")
    )
    config = job / "app" / "config" / "config_fed_server.json"
    server = json.loads(config.read_text())
    server["args"]["num_rounds"] = num_rounds
    config.write_text(json.dumps(server))
    return job


def test_split_is_dirichlet_skewed() -> None:
    shares, test = lib.split_indices(8)
    assert sum(len(s) for s in shares) + len(test) == 1797
    assert min(len(s) for s in shares) >= lib.MIN_ROWS
    y = lib._dataset()[1]
    # alpha = 0.5: on every site some digit is at least 3 times as common as another (an
    # IID split of ~180 images would give about 18 of each).
    counts = np.array([np.bincount(y[s], minlength=10) for s in shares])
    assert (counts.max(axis=1) >= 3 * counts.min(axis=1)).all(), counts


def test_cnn_trains_to_its_floor_in_the_simulator(tmp_path: Path) -> None:
    torch.set_num_threads(1)  # as the site script does: the same bits
    job = _example_copy(tmp_path, num_rounds=4)
    result = simulate(job, 3, threads=3, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    assert result.final_metrics["accuracy"] >= ACCURACY_FLOOR, result.final_metrics
    accuracies = [r["metrics"]["accuracy"] for r in result.rounds]
    assert accuracies[0] < 0.2 < ACCURACY_FLOOR <= accuracies[-1], accuracies  # it learned

    # Round 1, computed here: each site trains the initial model on its share; FedAvg.
    models = result.result_dir / "workspace" / "models"
    initial = load_file(str(models / "round-0.safetensors"))
    for name, array in lib.init_params(0).items():
        assert np.array_equal(initial[name], array), name
    sites = [lib.load_site(k, 3) for k in range(3)]
    expected = lib.fedavg(
        [(lib.train(initial, X, y, site=k, round=1), len(y)) for k, (X, y) in enumerate(sites)]
    )
    got = load_file(str(models / "round-1.safetensors"))
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-6)


def test_the_cli_runs_eight_sites_four_at_a_time(tmp_path: Path) -> None:
    # The command, `cohort simulate -j examples/hello-pt -n 8 -t 4`, on a 2-round copy
    # (the example folder holding job/, as -j examples/hello-pt names it).
    from click.testing import CliRunner

    from cohort.cli.simulate import simulate as simulate_command

    example = tmp_path / "example"
    example.mkdir()
    _example_copy(tmp_path, num_rounds=2).rename(example / "job")
    args = ["-j", str(example), "-n", "8", "-t", "4", "-w", str(tmp_path / "ws")]
    run = CliRunner().invoke(simulate_command, [*args, "--format", "json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)["data"]
    assert data["status"] == "FINISHED_OK" and data["n_sites"] == 8 and data["threads"] == 4
    assert [r["num_updates"] for r in data["rounds"]] == [0, 8, 8]
    assert data["final_metrics"]["accuracy"] >= 0.8, data["final_metrics"]
