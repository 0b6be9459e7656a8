"""The simulator on real jobs: results, result folder layout, back ends, reproducibility."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.client import api
from cohort.errors import CohortError, ErrorCode
from cohort.schemas.records import JobRecord
from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.integration.federation import make_job
from tests.simulate.conftest import HELLO, hello_copy


def _hello_lib() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hello_numpy_lib_reference", HELLO / "app" / "custom" / "hello_numpy_lib.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hello_numpy_three_sites_threads(tmp_path: Path) -> None:
    result = simulate(HELLO, 3, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    assert [r["round"] for r in result.rounds] == [0, 1, 2, 3, 4, 5]
    assert all(r["num_updates"] == 3 and r["num_samples"] == 455 for r in result.rounds[1:])
    assert result.final_metrics["accuracy"] >= 0.95
    assert result.rounds[-1]["metrics"]["accuracy"] > result.rounds[0]["metrics"]["accuracy"]
    # The sites evaluate each global model on the shared test set: the simulator's FedAvg must
    # reach exactly what the example's own in-process reference FedAvg reaches, round by round.
    reference = _hello_lib().simulate_fedavg(n_sites=3, rounds=5)
    assert [r["metrics"]["accuracy"] for r in result.rounds[1:]] == pytest.approx(reference)
    assert result.peak_rss_mb > 0 and result.wall_seconds > 0


def test_result_folder_has_the_layout_of_a_downloaded_result(tmp_path: Path) -> None:
    result = simulate(HELLO, 3, workspace=tmp_path / "ws", progress=False)
    out = result.result_dir
    assert out == tmp_path / "ws" / "result"
    record = JobRecord.model_validate_json((out / "meta.json").read_text())
    assert record.status == JobStatus.FINISHED_OK and record.sites == ["site-1", "site-2", "site-3"]
    assert record.job_id == result.job_id and record.total_rounds == 5
    ws = out / "workspace"
    summary = json.loads((ws / "metrics_summary.json").read_text())
    assert summary["final_metrics"] == result.final_metrics
    assert [r["round"] for r in summary["rounds"]] == [0, 1, 2, 3, 4, 5]
    final = load_file(str(ws / "FL_global_model.safetensors"))
    assert set(final) == {"w", "b"} and final["w"].shape == (30,)
    last = load_file(str(ws / "models" / "round-5.safetensors"))
    assert all(np.array_equal(final[k], last[k]) for k in final)
    for site in ("site-1", "site-2", "site-3"):
        log = (ws / site / "log.txt").read_text()
        assert log.startswith(f"{site}: ") and "final model test accuracy" in log
        assert all(line.startswith(f"{site}:") for line in log.splitlines())  # nobody else's
        lines = (ws / site / "metrics.jsonl").read_text().splitlines()
        metrics = [json.loads(line) for line in lines]
        assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5]
        assert {m["key"] for m in metrics} == {"train_loss"}
    assert "job finished" in (ws / "log.txt").read_text()
    assert not (tmp_path / "ws" / "updates").exists()  # working files go; the result stays


def test_same_seed_same_global_models_to_the_bit(tmp_path: Path) -> None:
    first = simulate(HELLO, 3, workspace=tmp_path / "a", progress=False)
    second = simulate(HELLO, 3, threads=1, workspace=tmp_path / "b", progress=False)
    assert [r["model_sha256"] for r in first.rounds] == [r["model_sha256"] for r in second.rounds]


def test_a_recipe_simulates_as_its_job_folder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("hello_numpy_job", HELLO.parent / "job.py")
    assert spec is not None and spec.loader is not None
    recipe_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe_module)
    recipe = recipe_module.make_recipe(num_rounds=2)
    from_recipe = simulate(recipe, 3, workspace=tmp_path / "r", progress=False)
    assert from_recipe.status == JobStatus.FINISHED_OK, from_recipe.reason
    folder = simulate(
        hello_copy(tmp_path, num_rounds=2), 3, workspace=tmp_path / "f", progress=False
    )
    assert [r["model_sha256"] for r in from_recipe.rounds] == [
        r["model_sha256"] for r in folder.rounds
    ]
    meta = JobRecord.model_validate_json((from_recipe.result_dir / "meta.json").read_text())
    assert meta.name == "hello-numpy"


IN_PLACE_SCRIPT = """
import numpy as np
import cohort.client as flare

flare.init()
k = int(flare.get_site_name().rsplit("-", 1)[1])
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        params = {"w": np.zeros(1000, dtype=np.float32)}
        flare.send(flare.FLModel(params=params, meta={"num_samples": 1}))
    elif flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"mean": float(model.params["w"].mean())}))
    else:
        w = model.params["w"]
        w += np.float32(k)  # in place, on the array the site received
        flare.send(flare.FLModel(params={"w": w}, meta={"num_samples": 1}))
"""


@pytest.mark.parametrize("threads", [1, 3])
def test_a_site_writing_to_the_received_model_changes_only_its_own_copy(
    tmp_path: Path, threads: int
) -> None:
    # The sites of a round are handed views of one model file: a write must reach neither the
    # file nor the other sites' arrays, or the mean below would not be (1 + 2 + 3) / 3 a round.
    job = make_job(tmp_path / "inplace", IN_PLACE_SCRIPT, num_rounds=2, min_clients=3)
    result = simulate(job, 3, threads=threads, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    models = tmp_path / "ws" / "models"
    for rnd, value in [(0, 0.0), (1, 2.0), (2, 4.0)]:
        data = (models / f"round-{rnd}.safetensors").read_bytes()
        assert hashlib.sha256(data).hexdigest() == result.rounds[rnd]["model_sha256"]
        assert np.array_equal(
            load_file(str(models / f"round-{rnd}.safetensors"))["w"],
            np.full(1000, value, dtype=np.float32),
        )
    assert result.final_metrics["mean"] == 4.0


def test_processes_back_end_gives_the_threads_back_end_model(tmp_path: Path) -> None:
    threads = simulate(HELLO, 3, workspace=tmp_path / "t", progress=False)
    procs = simulate(HELLO, 3, backend="processes", workspace=tmp_path / "p", progress=False)
    assert procs.status == JobStatus.FINISHED_OK, procs.reason
    assert procs.backend == "processes" and procs.threads == min(3, os.cpu_count() or 1)
    a, b = load_file(str(threads.global_model)), load_file(str(procs.global_model))
    assert set(a) == set(b)
    assert max(float(np.max(np.abs(a[k] - b[k]))) for k in a) <= 1e-6
    assert procs.final_metrics == pytest.approx(threads.final_metrics)
    log = (procs.result_dir / "workspace" / "site-2" / "log.txt").read_text()
    assert "final model test accuracy" in log


def test_the_process_is_left_as_it_was(tmp_path: Path) -> None:
    before = (os.getcwd(), sys.argv[:], sys.path[:], sys.stdout, sys.stderr, dict(os.environ))
    simulate(HELLO, 2, workspace=tmp_path / "ws", progress=False)
    after = (os.getcwd(), sys.argv[:], sys.path[:], sys.stdout, sys.stderr, dict(os.environ))
    assert after == before
    assert "hello_numpy_lib" not in sys.modules  # the job's modules do not leak into the next
    assert api._client is None and getattr(api._thread, "client", None) is None


ENV_SCRIPT = """
import os
import numpy as np
import cohort.client as flare

flare.init()
site = flare.get_site_name()
print("site", site, "env", os.environ.get("COHORT_SITE_NAME"), os.environ.get("COHORT_NUM_SITES"),
      os.environ.get("COHORT_JOB_ID"), os.environ.get("GREETING"), os.getcwd(), flush=True)
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.zeros(2, dtype=np.float32)}, meta={"num_samples": 1}))
    elif flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"one": 1.0}))
    else:
        flare.send(flare.FLModel(params=model.params, meta={"num_samples": 1}))
"""  # noqa: E501


def _env_job(tmp_path: Path) -> Path:
    job = make_job(tmp_path / "env-job", ENV_SCRIPT, num_rounds=1, min_clients=3)
    client = job / "app" / "config" / "config_fed_client.json"
    client.write_text(json.dumps({"script": "custom/train.py", "env": {"GREETING": "hi"}}))
    return job


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_sites_see_their_name_and_the_job_environment(tmp_path: Path, backend: str) -> None:
    job = _env_job(tmp_path)
    result = simulate(
        job,
        3,
        threads=3,
        backend=backend,
        workspace=tmp_path / "ws",
        progress=False,  # type: ignore[arg-type]
    )
    assert result.status == JobStatus.FINISHED_OK, result.reason
    app_dir = str((tmp_path / "ws" / "job" / "app").resolve())
    for site in ("site-1", "site-2", "site-3"):
        line = (result.result_dir / "workspace" / site / "log.txt").read_text().split("\n")[0]
        # Threads share one environment: the site name comes from flare.get_site_name() only.
        # A worker process hosting one site has it in its environment as a real site does.
        env_site = site if backend == "processes" else "None"
        assert line == f"site {site} env {env_site} 3 {result.job_id} hi {app_dir}"


def test_deploy_map_naming_sites_picks_those_sites(tmp_path: Path) -> None:
    job = make_job(
        tmp_path / "named", ENV_SCRIPT, num_rounds=2, min_clients=2, sites=["site-1", "site-3"]
    )
    result = simulate(job, 3, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    assert all(r["num_updates"] == 2 for r in result.rounds[1:])
    record = JobRecord.model_validate_json((result.result_dir / "meta.json").read_text())
    assert record.sites == ["site-1", "site-3"]


def test_custom_site_names(tmp_path: Path) -> None:
    job = make_job(tmp_path / "names", ENV_SCRIPT, num_rounds=1, min_clients=2)
    result = simulate(
        job, 2, site_names=["hospital-b", "hospital-a"], workspace=tmp_path / "ws", progress=False
    )
    assert result.status == JobStatus.FINISHED_OK, result.reason
    log = (result.result_dir / "workspace" / "hospital-a" / "log.txt").read_text()
    assert log.startswith("site hospital-a ")


def test_too_few_sites_for_min_clients_fails_the_job(tmp_path: Path) -> None:
    result = simulate(HELLO, 1, workspace=tmp_path / "ws", progress=False)  # min_clients is 2
    assert result.status == JobStatus.FAILED
    assert "needs 2 sites" in result.reason and result.rounds == []
    assert (result.result_dir / "meta.json").is_file()


def test_invalid_jobs_get_the_servers_error_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(CohortError) as info:
        simulate(bad, 2, workspace=tmp_path / "ws", progress=False)
    assert info.value.code == ErrorCode.JOB_META_MISSING
    (bad / "meta.json").write_text('{"name": "x", "deploy_map": {"app": ["@ALL"]}}')
    with pytest.raises(CohortError) as info:
        simulate(bad, 2, workspace=tmp_path / "ws", progress=False)
    assert info.value.code == ErrorCode.DEPLOY_MAP_INVALID
    job = make_job(tmp_path / "wf", ENV_SCRIPT)
    server = job / "app" / "config" / "config_fed_server.json"
    server.write_text(json.dumps({"workflow": "no-such-workflow"}))
    with pytest.raises(CohortError) as info:
        simulate(job, 2, workspace=tmp_path / "ws", progress=False)
    assert info.value.code == ErrorCode.UNKNOWN_WORKFLOW


def test_arguments_are_checked(tmp_path: Path) -> None:
    for kwargs in (
        {"n_sites": 0},
        {"n_sites": 2, "threads": 0},
        {"n_sites": 2, "backend": "spark"},
        {"n_sites": 2, "site_names": ["a"]},
        {"n_sites": 2, "site_names": ["a", "a"]},
        {"n_sites": 1, "site_names": ["../x"]},
    ):
        with pytest.raises(CohortError) as info:
            simulate(HELLO, workspace=tmp_path / "ws", progress=False, **kwargs)  # type: ignore[arg-type]
        assert info.value.code == ErrorCode.INVALID_ARGS, kwargs


def test_the_ray_back_end_without_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a)
    )
    with pytest.raises(CohortError) as info:
        simulate(HELLO, 2, backend="ray", workspace=tmp_path / "ws", progress=False)
    assert info.value.code == ErrorCode.INVALID_ARGS
    assert "cohort[ray]" in (info.value.hint or "")
    assert not (tmp_path / "ws").exists()  # refused before anything was written


def test_a_folder_that_is_not_a_simulation_workspace_is_never_cleared(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(CohortError) as info:
        simulate(HELLO, 2, workspace=precious, progress=False)
    assert info.value.code == ErrorCode.OUTPUT_DIR_EXISTS
    assert (precious / "thesis.txt").read_text() == "do not delete"
    first = simulate(HELLO, 2, workspace=tmp_path / "ws", progress=False)
    second = simulate(HELLO, 2, workspace=tmp_path / "ws", progress=False)  # its own: reused
    assert first.job_id != second.job_id and second.status == JobStatus.FINISHED_OK


SLOW_SCRIPT = """
import time
import numpy as np
import cohort.client as flare

flare.init()
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.zeros(2, dtype=np.float32)}, meta={"num_samples": 1}))
    elif flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"one": 1.0}))
    else:
        time.sleep(0.4)  # training takes 0.4 s of the site's time
        flare.send(flare.FLModel(params=model.params, meta={"num_samples": 1}))
"""  # noqa: E501


def test_waiting_for_a_run_slot_does_not_count_against_timeouts(tmp_path: Path) -> None:
    # One slot, four sites of 0.4 s each: a round takes 1.6 s of wall time, past the 1 s task
    # timeout and the 0.2 s wait after the first result; yet each site needs only 0.4 s of its
    # own time, so as on a real federation (sites in parallel) every site makes every round.
    job = make_job(
        tmp_path / "slow", SLOW_SCRIPT, num_rounds=2, min_clients=1, task_timeout=1.0,
        wait_after_min=0.2,
    )  # fmt: skip
    result = simulate(job, 4, threads=1, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    assert [r["num_updates"] for r in result.rounds] == [0, 4, 4]
    assert result.site_errors == []
