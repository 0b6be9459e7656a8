"""Failures in a simulation read as on a real server: the site, the error, the job's status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohort.schemas.records import JobRecord
from cohort.simulate import simulate
from cohort.states import JobStatus
from cohort.wire.tensors import iter_file_tensors
from tests.integration.federation import make_job, toy_script

BACKENDS = ["threads", "processes"]


def _run(tmp_path: Path, before_send: str, backend: str = "threads", **job: object) -> object:
    folder = make_job(tmp_path / "job", toy_script(before_send), **job)  # type: ignore[arg-type]
    return simulate(
        folder,
        3,
        threads=3,
        backend=backend,
        workspace=tmp_path / "ws",
        progress=False,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_script_that_raises_fails_its_site_and_a_job_that_needs_it(
    tmp_path: Path, backend: str
) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-2" and rnd == 2:\n        raise ValueError("bad batch on purpose")',
        backend,
        min_clients=3,
    )
    assert result.status == JobStatus.FINISHED_EXCEPTION  # type: ignore[attr-defined]
    reason = result.reason  # type: ignore[attr-defined]
    assert "round 2 (train): 2 site(s) returned a result, 3 needed" in reason
    assert "site-2: script exited with code 1: ValueError: bad batch on purpose" in reason
    [error] = result.site_errors  # type: ignore[attr-defined]
    assert error["site"] == "site-2" and error["kind"] == "failed"
    assert "Traceback" in error["traceback_tail"] and "raise ValueError" in error["traceback_tail"]
    out = result.result_dir  # type: ignore[attr-defined]
    record = JobRecord.model_validate_json((out / "meta.json").read_text())
    assert record.status == JobStatus.FINISHED_EXCEPTION and record.status_reason == reason
    assert record.site_errors[0]["site"] == "site-2"
    log = (out / "workspace" / "site-2" / "log.txt").read_text()
    assert "site-2 round 1" in log and log.rstrip().endswith("ValueError: bad batch on purpose")
    summary = json.loads((out / "workspace" / "metrics_summary.json").read_text())
    assert summary["status"] == "FINISHED_EXCEPTION"


def test_a_failed_site_gets_no_more_tasks_and_the_job_goes_on(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-2" and rnd == 1:\n        raise RuntimeError("out of memory")',
        num_rounds=3,
        min_clients=2,
    )
    assert result.status == JobStatus.FINISHED_OK, result.reason  # type: ignore[attr-defined]
    assert [r["num_updates"] for r in result.rounds] == [0, 2, 2, 2]  # type: ignore[attr-defined]
    assert [e["site"] for e in result.site_errors] == ["site-2"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_script_that_exits_early_is_a_failure(tmp_path: Path, backend: str) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-3" and rnd == 2:\n        sys.exit(0)',
        backend,
        min_clients=3,
    )
    assert result.status == JobStatus.FINISHED_EXCEPTION  # type: ignore[attr-defined]
    assert "site-3: script exited before the job finished" in result.reason  # type: ignore[attr-defined]


def test_an_exit_code_and_the_last_line_printed_are_reported(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-1" and rnd == 1:\n'
        '        print("giving up: no GPU", flush=True)\n'
        "        sys.exit(3)",
        min_clients=3,
    )
    assert "site-1: script exited with code 3: giving up: no GPU" in result.reason  # type: ignore[attr-defined]


def test_a_task_timeout_is_a_failure_of_that_site_in_that_round(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-3" and rnd == 1:\n        time.sleep(2.0)',
        min_clients=3,
        task_timeout=0.5,
    )
    assert result.status == JobStatus.FINISHED_EXCEPTION  # type: ignore[attr-defined]
    assert "site-3: no result before the task timeout" in result.reason  # type: ignore[attr-defined]


def test_a_slow_site_is_left_out_after_wait_after_min(tmp_path: Path) -> None:
    # min_clients answered, then wait_after_min of the slow site's own time: the round closes
    # without it, and its late result is refused as on the server.
    result = _run(
        tmp_path,
        '    if site == "site-3" and rnd == 1:\n        time.sleep(1.5)',
        num_rounds=2,
        min_clients=2,
        wait_after_min=0.2,
    )
    assert result.status == JobStatus.FINISHED_OK, result.reason  # type: ignore[attr-defined]
    assert [r["num_updates"] for r in result.rounds] == [0, 2, 2]  # type: ignore[attr-defined]
    log = (result.result_dir / "workspace" / "site-3" / "log.txt").read_text()  # type: ignore[attr-defined]
    assert "TASK_NOT_ACTIVE" in log and "its result is no longer wanted" in log


def test_an_update_that_does_not_match_the_model_is_refused(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        '    if site == "site-2":\n        model.params["w"] = np.zeros(5, dtype=np.float32)',
        min_clients=3,
    )
    assert result.status == JobStatus.FINISHED_EXCEPTION  # type: ignore[attr-defined]
    assert "site-2: script exited with code 1:" in result.reason  # type: ignore[attr-defined]
    assert "MODEL_VALIDATION_FAILED" in result.reason  # type: ignore[attr-defined]
    assert "wrong dtype or shape ['w']" in result.reason  # type: ignore[attr-defined]


def test_a_workflow_error_finishes_the_job_with_an_exception(tmp_path: Path) -> None:
    folder = make_job(tmp_path / "job", toy_script())
    server = folder / "app" / "config" / "config_fed_server.json"
    args = {"num_rounds": 1, "initial_model": "missing.safetensors"}
    server.write_text(json.dumps({"workflow": "fedavg", "args": args}))
    result = simulate(folder, 2, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_EXCEPTION
    assert result.reason.startswith("workflow error: "), result.reason
    assert "missing.safetensors" in result.reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_script_that_does_not_compile_fails_every_site(tmp_path: Path, backend: str) -> None:
    result = _run(tmp_path, "    if site ==:\n        pass", backend)
    assert result.status == JobStatus.FINISHED_EXCEPTION  # type: ignore[attr-defined]
    assert "no site supplied an initial model" in result.reason  # type: ignore[attr-defined]
    # Which site reports first depends on thread scheduling; the others say theirs failed too.
    assert "script exited with code 1: SyntaxError: invalid syntax" in result.reason  # type: ignore[attr-defined]


#: Sites add their index to the model; site-2 sends the model with every value set to POISON.
POISONING_SCRIPT = """
import numpy as np
import cohort.client as flare

flare.init()
site = flare.get_site_name()
index = int(site.split("-")[-1])
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.zeros(4, np.float32)}, meta={"num_samples": 1}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"score": 1.0}, meta={"num_samples": 1}))
        continue
    w = model.params["w"] + index
    if site == "site-2":
        w = w * 0 + POISON
    flare.send(flare.FLModel(params={"w": w.astype(np.float32)}, meta={"num_samples": index}))
"""


@pytest.mark.parametrize(
    ("poison", "why"),
    [("float('nan')", "non-finite values"), ("1000.0", "exceeds max_norm 10")],
    ids=["nan", "scaled"],
)
def test_a_poisoned_update_is_refused_before_aggregation(
    tmp_path: Path, poison: str, why: str
) -> None:
    # The simulator's workflows meet the same validation as a server's (WorkflowContext.screen).
    folder = make_job(tmp_path / "job", POISONING_SCRIPT.replace("POISON", poison), num_rounds=2)
    meta = json.loads((folder / "meta.json").read_text())
    meta["policies"] = {"update_validation": {"max_norm": 10.0}}
    (folder / "meta.json").write_text(json.dumps(meta))
    result = simulate(folder, 3, threads=3, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    rejected = [e for e in result.site_errors if e["kind"] == "rejected"]
    assert [(e["site"], e["round"]) for e in rejected] == [("site-2", 1), ("site-2", 2)]
    assert all(why in e["reason"] for e in rejected)
    assert [r["num_updates"] for r in result.rounds if r["round"] > 0] == [2, 2]
    # Only site-1 (+1, weight 1) and site-3 (+3, weight 3) were averaged: +2.5 a round.
    model = dict(iter_file_tensors(result.global_model))
    assert np.allclose(model["w"], 5.0)


def test_too_few_valid_updates_fail_the_round_with_the_reason(tmp_path: Path) -> None:
    folder = make_job(
        tmp_path / "job", POISONING_SCRIPT.replace("POISON", "float('nan')"), min_clients=3
    )
    result = simulate(folder, 3, threads=3, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_EXCEPTION
    assert "round 1 (train): 2 site(s) returned a result, 3 needed" in result.reason
    assert "site-2: update rejected: non-finite values (NaN or inf) in ['w']" in result.reason
