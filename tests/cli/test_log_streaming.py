"""Job log streaming as a job opts in: a real server started without the POC's default (so
only jobs with a JobLogStreamer and a JobLogReceiver stream), two real site agents, and
`cohort job logs` / `cohort job download` reading the server's job workspace.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cohort.httpclient import kit_client
from cohort.provision.kit import load_kit
from cohort.recipes import FedAvgRecipe, JobLogReceiver, JobLogStreamer
from tests.cli.helpers import envelope, run, running_federation
from tests.integration.federation import ROOT, Federation, toy_script

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("log_streaming")]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Server (no global streamer/receiver) and two sites, for the whole module."""
    with running_federation(tmp_path_factory, 2, job_log_streaming=False) as federation:
        yield federation


@pytest.fixture(autouse=True)
def admin_kit(fed: Federation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Commands find the admin kit through COHORT_STARTUP_KIT_DIR."""
    monkeypatch.setenv("COHORT_STARTUP_KIT_DIR", str(fed.layout.admin_kit))
    return fed.layout.admin_kit


def recipe(tmp: Path, name: str, log_streaming: bool | None = None) -> FedAvgRecipe:
    """A two-round toy FedAvg recipe on both sites."""
    script = tmp / f"{name}-train.py"
    script.write_text(toy_script())
    return FedAvgRecipe(
        name=name,
        train_script=script,
        num_rounds=2,
        min_clients=2,
        task_timeout=60,
        log_streaming=log_streaming,
    )


def run_job(rec: FedAvgRecipe, tmp: Path) -> str:
    """Export, submit and wait for the recipe's job; its id."""
    folder = rec.export(tmp / f"{rec.name}-job")
    submitted = run("job", "submit", "-j", str(folder), "--format", "json")
    assert submitted.exit_code == 0, submitted.output
    job_id: str = envelope(submitted)["data"]["job_id"]
    waited = run("job", "wait", job_id, "--timeout", "180", "--interval", "0.5")
    assert waited.exit_code == 0, waited.output
    return job_id


def all_logs(job_id: str, *extra: str) -> dict[str, Any]:
    result = run("job", "logs", job_id, "--site", "all", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = envelope(result)["data"]
    return data


def stored(fed: Federation, job_id: str) -> Path:
    """The job's streamed-log folder in the server's job workspace."""
    return fed.server_ws() / "artifacts" / "jobs" / job_id / "workspace"


def test_without_components_or_a_server_default_sites_keep_their_logs(
    fed: Federation, tmp_path: Path
) -> None:
    job_id = run_job(recipe(tmp_path, "plain"), tmp_path)
    data = all_logs(job_id)
    assert set(data["logs"]) == {"server"} and "job finished" in data["logs"]["server"]
    assert set(data["unavailable"]) == {"site-1", "site-2"}
    assert "no JobLogStreamer" in data["unavailable"]["site-1"]
    assert not stored(fed, job_id).exists()
    # The site still has its own log.txt.
    assert "site-1 round 2" in (fed.tmp / "site-1-ws" / "jobs" / job_id / "log.txt").read_text()
    one = run("job", "logs", job_id, "--site", "site-2")
    assert one.exit_code == 4 and "LOG_NOT_FOUND" in one.stderr and "JobLogStreamer" in one.stderr


def test_meta_log_streaming_true_streams_on_any_server(fed: Federation, tmp_path: Path) -> None:
    job_id = run_job(recipe(tmp_path, "opted", log_streaming=True), tmp_path)
    data = all_logs(job_id)
    assert data["unavailable"] == {} and "site-2 round 2" in data["logs"]["site-2"]
    assert data["sites"]["site-2"]["file"] == "log.txt"


def test_a_streamer_without_a_receiver_streams_nothing(fed: Federation, tmp_path: Path) -> None:
    rec = recipe(tmp_path, "half")
    rec.job.to_clients(JobLogStreamer())
    job_id = run_job(rec, tmp_path)
    data = all_logs(job_id)
    assert "no JobLogReceiver" in data["unavailable"]["site-1"]
    assert not stored(fed, job_id).exists()
    # A site that streams anyway is refused: the server decides, not the site.
    with kit_client(load_kit(fed.layout.site_kits["site-1"])) as http:
        refused = http.post(f"/fleet/v1/jobs/{job_id}/log", content=b"sneaked in\n")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CONFLICT"
    assert not stored(fed, job_id).exists()


def test_streamer_and_receiver_store_site_log_txt(fed: Federation, tmp_path: Path) -> None:
    rec = recipe(tmp_path, "texty")
    rec.job.to_clients(JobLogStreamer())
    rec.job.to_server(JobLogReceiver())
    job_id = run_job(rec, tmp_path)
    data = all_logs(job_id)  # the server answers once every site's log is whole
    for site in ("site-1", "site-2"):
        path = stored(fed, job_id) / site / "log.txt"
        assert f"{site} round 2" in path.read_text()
        assert not (stored(fed, job_id) / site / "log.json").exists()
    assert data["unavailable"] == {}
    assert data["sites"]["site-1"]["file"] == "log.txt"
    assert data["logs"]["site-1"] == (stored(fed, job_id) / "site-1" / "log.txt").read_text()


def test_log_json_is_stored_returned_as_records_and_rendered_as_text(
    fed: Federation, tmp_path: Path
) -> None:
    rec = recipe(tmp_path, "structured")
    rec.job.to_clients(JobLogStreamer(log_file_name="log.json"))
    rec.job.to_server(JobLogReceiver())
    job_id = run_job(rec, tmp_path)
    data = all_logs(job_id)  # JSON output: the structured records as stored
    path = stored(fed, job_id) / "site-1" / "log.json"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {"time", "site", "job_id", "message"} <= set(records[0])
    assert [r["message"] for r in records if "round" in r["message"]] == [
        "site-1 round 1",
        "site-1 round 2",
    ]
    assert not (stored(fed, job_id) / "site-1" / "log.txt").exists()

    assert data["sites"]["site-1"]["file"] == "log.json"
    assert [json.loads(line) for line in data["logs"]["site-1"].splitlines()] == records
    assert data["sites"]["server"]["file"] == "log.txt"

    human = run("job", "logs", job_id, "--site", "site-1")  # readable text, not JSON
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    assert len(lines) == len(records) and not any(line.startswith("{") for line in lines)
    assert [line for line in lines if line.endswith("round 2")] == [
        f"{records[i]['time']} site-1 round 2"
        for i, r in enumerate(records)
        if r["message"] == "site-1 round 2"
    ]
    assert lines[0].startswith(records[0]["time"])

    # --since reads each record's time; --tail counts records.
    later = records[-1]["time"]
    since = all_logs(job_id, "--since", later)["sites"]["site-1"]
    assert since["since_applied"] is True and since["lines"] <= len(records)
    tail = all_logs(job_id, "--tail", "1")["logs"]["site-2"].splitlines()
    assert len(tail) == 1 and json.loads(tail[0])["site"] == "site-2"

    out = tmp_path / "dl"
    got = envelope(run("job", "download", job_id, "-o", str(out), "--format", "json"))["data"]
    logs = got["artifacts"]["client_logs"]
    assert set(logs) == {"site-1", "site-2"} and logs["site-1"].endswith("site-1/log.json")
    assert Path(logs["site-1"]).read_text() == path.read_text()


def test_hello_log_streaming_example_streams_log_json(fed: Federation, tmp_path: Path) -> None:
    out = tmp_path / "hello-logs"
    exported = subprocess.run(
        [
            sys.executable, str(ROOT / "examples" / "hello-log-streaming" / "job.py"),
            "--export", "--export-dir", str(out), "--num-rounds", "1",
            "--log-file-name", "log.json",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    submitted = run("job", "submit", "-j", str(out), "--format", "json")
    job_id = envelope(submitted)["data"]["job_id"]
    assert run("job", "wait", job_id, "--timeout", "180").exit_code == 0
    data = all_logs(job_id)
    assert data["unavailable"] == {}
    for site in ("site-1", "site-2"):
        assert data["sites"][site]["file"] == "log.json"
        records = [json.loads(line) for line in data["logs"][site].splitlines()]
        assert records and all(r["site"] == site and r["job_id"] == job_id for r in records)
    human = run("job", "logs", job_id, "--site", "all", "--tail", "200")
    assert "==> site-2 <==" in human.stdout and '{"time"' not in human.stdout
