"""The benchmark harness's own logic: round times from peers' logs, process tagging and
cleanup, the Flower requirement relaxation, the shared workload, the README rendering."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
import peers_setup  # noqa: E402
import render  # noqa: E402
import workloads  # noqa: E402
from runners.nvflare_runner import round_times  # noqa: E402

NVFLARE_LOG = """\
2026-11-23 11:26:45,663 - FedAvg - INFO -
--------------------------------------------------------------------------------
                                Round 0 started.
--------------------------------------------------------------------------------
2026-11-23 11:26:45,683 - FedAvg - INFO - Sending task train to ['site-1', 'site-2']
2026-11-23 11:26:57,386 - FedAvg - INFO -
                                Round 1 started.
2026-11-23 11:27:00,986 - FedAvg - INFO -
                                Round 2 started.
2026-11-23 11:27:02,500 - FedAvg - INFO -
================================================================================
                                Finished FedAvg.
"""


def test_nvflare_round_times_come_from_the_stamp_before_each_mark() -> None:
    times = round_times(NVFLARE_LOG)
    assert len(times) == 4  # global models 0, 1, 2 and the end of the last round
    assert harness.durations(times) == pytest.approx([3.6, 1.514], abs=1e-6)
    assert times[1] - times[0] == pytest.approx(11.723, abs=1e-6)


def test_durations_skip_round_one() -> None:
    assert harness.durations([0.0, 10.0, 10.5, 11.5]) == [0.5, 1.0]


def test_tagged_processes_are_measured_and_all_stopped(tmp_path: Path) -> None:
    # A child that starts a grandchild in a new session (as Ray's daemons do): both carry
    # the tag, both count towards memory, and both are stopped when the group ends.
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
        "start_new_session=True); time.sleep(60)"
    )
    with harness.Tagged() as group, harness.MemorySampler(group.tag, interval=0.05) as mem:
        group.start([sys.executable, "-c", code], log=tmp_path / "log.txt")
        harness.wait_for(lambda: len(harness.tagged_pids(group.tag)) == 2, 30, "two processes")
        time.sleep(1.2)  # the sampler rescans pids every second
        tag = group.tag
    assert mem.peak_mb > 5
    harness.wait_for(lambda: not harness.tagged_pids(tag), 30, "the tagged processes to end")


def test_a_failing_command_raises_with_its_log(tmp_path: Path) -> None:
    with harness.Tagged() as group, pytest.raises(harness.BenchError, match="exited 3: boom"):
        group.run(
            [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
            log=tmp_path / "log.txt",
            timeout=60,
        )


def test_flower_requirements_relax_certifi_and_drop_extras(tmp_path: Path) -> None:
    wheel = tmp_path / "flwr-1.42.0-py3-none-any.whl"
    metadata = (
        "Name: flwr\nRequires-Dist: certifi>=2026.10.19\nRequires-Dist: numpy>=1.26.0,<3.0.0\n"
        "Requires-Dist: ray==2.55.1 ; extra == 'simulation'\n"
    )
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("flwr-1.42.0.dist-info/METADATA", metadata)
    reqs = peers_setup._flwr_requirements(wheel)
    assert reqs == ["certifi>=2026.10.18", "numpy>=1.26.0,<3.0.0"]


def test_parity_training_is_deterministic_and_learns() -> None:
    init = workloads.parity_initial()
    a = workloads.parity_train(init, 0)
    b = workloads.parity_train(workloads.parity_initial(), 0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(x.dtype == np.float32 for x in a)
    x, y = workloads.parity_data(0)

    def loss(p: list[np.ndarray]) -> float:
        return float(((x @ p[0] + p[1] - y) ** 2).mean())

    assert loss(a) < loss(init)


def test_render_rewrites_only_between_the_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    machine = {"date": "d", "cpus": 2, "memory_gib": 24, "python": "3.11", "load_average": [1]}
    rows = [
        {"mode": "sim", "sites": 2, "platform": "cohort", "round_s": 0.2, "peak_mb": 100.0,
         "round_s_vs_best_peer": 0.5, "peak_mb_vs_best_peer": 0.1, "errors": []},
        {"mode": "sim", "sites": 2, "platform": "flower", "round_s": 0.4, "peak_mb": 1000.0,
         "errors": []},
        {"mode": "sim", "sites": 2, "platform": "nvflare", "round_s": None, "peak_mb": None,
         "errors": ["BenchError: it broke"]},
    ]  # fmt: skip
    data = {"workload": "overhead", "machine": machine, "params": 10, "rounds": 5, "repeat": 1}
    (results / "overhead.json").write_text(json.dumps({**data, "rows": rows}))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{render.START}\nold\n{render.END}\noutro\n")
    monkeypatch.setattr(render, "RESULTS", results)
    monkeypatch.setattr(render, "README", readme)
    render.main()
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| simulation | 2 | 0.200 | 0.400 | failed | 0.50 | 100 | 1000 | failed | 0.10 |" in text
    assert "NVIDIA FLARE sim 2 sites: BenchError: it broke" in text
    assert "Round overhead below both peers, simulation, 2 sites: met (0.50x the best peer)" in text


def test_render_refuses_a_readme_without_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    monkeypatch.setattr(render, "README", readme)
    with pytest.raises(SystemExit):
        render.main()


def test_peers_setup_refuses_unknown_peers() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "peers_setup.py"), "pytorch"], capture_output=True
    )
    assert proc.returncode == 2
    assert b"unknown peer" in proc.stderr
