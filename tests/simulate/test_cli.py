"""``cohort simulate``: the per-round table, the JSON envelope, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cohort.cli.simulate import simulate
from tests.integration.federation import make_job, toy_script
from tests.simulate.conftest import HELLO


def test_json_envelope_of_a_finished_job(tmp_path: Path) -> None:
    args = ["-j", str(HELLO), "-n", "3", "-t", "2", "-w", str(tmp_path / "ws"), "--format", "json"]
    run = CliRunner().invoke(simulate, args)
    assert run.exit_code == 0, run.output
    envelope = json.loads(run.stdout)
    assert envelope["schema_version"] == "1" and envelope["status"] == "ok"
    assert envelope["exit_code"] == 0
    data = envelope["data"]
    assert data["status"] == "FINISHED_OK" and data["n_sites"] == 3 and data["threads"] == 2
    assert data["final_metrics"]["accuracy"] >= 0.95
    assert [r["round"] for r in data["rounds"]] == [0, 1, 2, 3, 4, 5]
    assert Path(data["result_dir"], "workspace", "FL_global_model.safetensors").is_file()
    assert data["peak_rss_mb"] > 0 and data["wall_seconds"] > 0


def test_human_output_is_a_table_of_rounds_with_a_progress_bar(tmp_path: Path) -> None:
    # -j names the example folder (which holds job/), as `cohort simulate -j examples/...`.
    example = str(HELLO.parent)
    run = CliRunner().invoke(
        simulate, ["-j", example, "-n", "3", "-w", str(tmp_path / "w"), "--progress"]
    )
    assert run.exit_code == 0, run.output
    assert "FINISHED_OK" in run.stdout and "accuracy" in run.stdout
    assert "result: " in run.stdout
    assert "3 sites" in run.stderr and "peak RSS" in run.stderr
    # The bar's last state: the final step, rounds done, results in, the latest accuracy.
    assert "validating the final model" in run.stderr, run.stderr
    assert "5/5" in run.stderr and "3/3 results" in run.stderr and "accuracy 0.9" in run.stderr


def test_a_failed_job_exits_1_with_the_reason(tmp_path: Path) -> None:
    job = make_job(
        tmp_path / "job",
        toy_script('    if site == "site-2":\n        raise ValueError("broken")'),
        min_clients=3,
    )
    args = ["-j", str(job), "-n", "3", "-w", str(tmp_path / "ws"), "--format", "json"]
    run = CliRunner().invoke(simulate, args)
    assert run.exit_code == 1
    envelope = json.loads(run.stdout)
    assert envelope["exit_code"] == 1 and envelope["data"]["status"] == "FINISHED_EXCEPTION"
    assert "site-2: script exited with code 1: ValueError: broken" in envelope["data"]["reason"]
    assert envelope["data"]["site_errors"][0]["site"] == "site-2"
    human = CliRunner().invoke(simulate, ["-j", str(job), "-n", "3", "-w", str(tmp_path / "ws")])
    assert human.exit_code == 1 and "site-2" in human.stdout


def test_site_names_with_c_and_argument_errors(tmp_path: Path) -> None:
    job = make_job(tmp_path / "job", toy_script(), num_rounds=1)
    ok = CliRunner().invoke(
        simulate, ["-j", str(job), "-c", "site-1,site-7", "-w", str(tmp_path / "ws")]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "ws" / "result" / "workspace" / "site-7" / "log.txt").is_file()
    missing = CliRunner().invoke(simulate, ["-j", str(job), "--format", "json"])
    assert missing.exit_code == 4
    assert json.loads(missing.stdout)["error_code"] == "INVALID_ARGS"
    clash = CliRunner().invoke(simulate, ["-j", str(job), "-n", "3", "-c", "a,b"])
    assert clash.exit_code == 4
    bad_job = CliRunner().invoke(
        simulate, ["-j", str(tmp_path / "nope"), "-n", "2", "--format", "json"]
    )
    assert bad_job.exit_code == 4 and json.loads(bad_job.stdout)["status"] == "error"
