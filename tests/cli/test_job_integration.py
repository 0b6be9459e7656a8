"""The job command line against a real POC: a server and two site agents as processes over
mTLS on loopback, every subcommand in human and JSON mode, every exit code provoked for real.

One federation serves the whole module (starting one per test would dominate the run time);
each test submits its own jobs. Commands run in process through click's runner, except where
a real process matters (exit status, stdin that is not a terminal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cohort.admin.api import AdminAPI
from cohort.provision.kit import load_kit
from cohort.states import JOB_TERMINAL, JobStatus
from tests.cli.helpers import envelope, events, run, running_federation
from tests.integration.federation import Federation, make_job, toy_script

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("job_integration")]

SLOW = "    time.sleep(30)"
FAIL = "    raise RuntimeError('boom in round %d' % rnd)"
LOGGING = """
    import logging
    logging.getLogger('toy').debug('debug line of round %d', rnd)
    time.sleep(0.7)
"""


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """A running federation with two sites, for the whole module."""
    with running_federation(tmp_path_factory, 2) as federation:
        yield federation


@pytest.fixture(autouse=True)
def admin_kit(fed: Federation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Commands find the admin kit through COHORT_STARTUP_KIT_DIR."""
    monkeypatch.setenv("COHORT_STARTUP_KIT_DIR", str(fed.layout.admin_kit))
    return fed.layout.admin_kit


def toy(tmp: Path, name: str, before_send: str = "", **kwargs: Any) -> Path:
    """A toy FedAvg job folder (2 rounds on the two sites unless told otherwise)."""
    return make_job(tmp / name, toy_script(before_send), **kwargs)


def submit(folder: Path, *extra: str) -> str:
    result = run("job", "submit", "-j", str(folder), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    job_id: str = envelope(result)["data"]["job_id"]
    return job_id


def cohort(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``cohort ARGS`` as a real process with stdin that is not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "cohort.cli.main", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        env=os.environ.copy(),
        check=False,
    )


def wait_running(fed: Federation, job_id: str) -> None:
    fed.wait_for(job_id, lambda r: r.status == JobStatus.RUNNING and (r.current_round or 0) >= 1)


# --- submit, wait, meta, list, stats, logs, download, clone ----------------------------------


def test_a_job_from_submit_to_download_human_and_json(fed: Federation, tmp_path: Path) -> None:
    human = run("job", "submit", "-j", str(toy(tmp_path, "first")))
    assert human.exit_code == 0
    job_id = human.stdout.strip()  # human mode prints just the id: JOB=$(cohort job submit)
    assert "submitted job" in human.stderr

    waited = run("job", "wait", job_id, "--format", "json", "--timeout", "120")
    assert waited.exit_code == 0, waited.output
    data = envelope(waited)["data"]
    assert (data["status"], data["job_status"]) == ("COMPLETED", "FINISHED_OK")
    assert data["terminal"] is True and data["job_id"] == job_id
    assert job_id in waited.stderr  # diagnostics on stderr, stdout only the envelope
    again = run("job", "wait", job_id)
    assert again.exit_code == 0 and "COMPLETED" in again.stdout

    meta = run("job", "meta", job_id)
    assert meta.exit_code == 0
    assert "COMPLETED (FINISHED_OK)" in meta.stdout and "round        2 of 2" in meta.stdout
    raw = envelope(run("job", "meta", job_id, "--format", "json"))["data"]
    assert raw["meta"]["name"] == "first" and raw["sites"] == ["site-1", "site-2"]

    listed = envelope(run("job", "list", "--format", "json", "-i", job_id[:8]))["data"]
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    table = run("job", "list", "-n", "first")
    assert job_id in table.stdout and "COMPLETED" in table.stdout

    stats = envelope(run("job", "stats", job_id, "--format", "json"))["data"]
    assert stats["server"]["current_round"] == stats["server"]["total_rounds"] == 2
    assert stats["server"]["status"] == "FINISHED_OK"
    assert set(stats["sites"]) == {"site-1", "site-2"}
    assert all(s["tasks"].get("DONE", 0) >= 3 for s in stats["sites"].values())
    assert stats["server"]["updates_received"] == sum(
        s["updates_received"] for s in stats["sites"].values()
    )
    one = envelope(run("job", "stats", job_id, "--site", "site-1", "--format", "json"))["data"]
    assert one["server"] is None and list(one["sites"]) == ["site-1"]
    human_stats = run("job", "stats", job_id)
    assert "updates received" in human_stats.stdout and "site-2" in human_stats.stdout

    logs = envelope(run("job", "logs", job_id, "--site", "all", "--format", "json"))["data"]
    assert set(logs["logs"]) == {"server", "site-1", "site-2"}
    assert "job finished" in logs["logs"]["server"]
    assert "site-1 round 2" in logs["logs"]["site-1"]
    assert logs["filters"]["default_tail_applied"] is True and logs["filters"]["tail"] == 500
    assert logs["sites"]["site-2"]["lines"] == 2 and logs["unavailable"] == {}
    assert logs["logs_truncated"] is False
    # A POC streams by default: each site's log.txt in the server's job workspace.
    streamed = fed.server_ws() / "artifacts" / "jobs" / job_id / "workspace" / "site-1" / "log.txt"
    assert streamed.read_text() == logs["logs"]["site-1"]
    assert logs["sites"]["site-1"]["file"] == "log.txt"
    server_only = run("job", "logs", job_id)  # --site server is the default
    assert server_only.exit_code == 0 and "job finished" in server_only.stdout
    assert "==>" not in server_only.stdout
    every = run("job", "logs", job_id, "--sites", "all")
    assert "==> site-1 <==" in every.stdout and "site-2 round 1" in every.stdout

    out = tmp_path / "downloads"
    got = envelope(run("job", "download", job_id, "-o", str(out), "--format", "json"))["data"]
    assert got["download_path"] == got["path"] == str(out / job_id)
    assert got["artifact_discovery"] == "completed" and got["missing_artifacts"] == []
    assert Path(got["artifacts"]["global_model"]).is_file()
    assert set(got["artifacts"]["client_logs"]) == {"site-1", "site-2"}
    refused = run("job", "download", job_id, "-o", str(out), "--format", "json")
    assert refused.exit_code == 4 and envelope(refused)["error_code"] == "OUTPUT_DIR_EXISTS"
    forced = run("job", "download", job_id, "-o", str(out), "--force")
    assert forced.exit_code == 0 and forced.stdout.strip() == str(out / job_id)

    cloned = envelope(run("job", "clone", job_id, "--format", "json"))["data"]
    assert cloned["source_job_id"] == job_id and cloned["new_job_id"] != job_id
    clone_done = run("job", "wait", cloned["new_job_id"], "--format", "json")
    assert clone_done.exit_code == 0
    human_clone = run("job", "clone", job_id)
    assert human_clone.exit_code == 0
    run("job", "abort", human_clone.stdout.strip(), "--force")


def test_download_of_a_running_job_is_refused_and_leaves_nothing(
    fed: Federation, tmp_path: Path
) -> None:
    job_id = submit(toy(tmp_path, "slow-dl", SLOW))
    refused = run("job", "download", job_id, "-o", str(tmp_path), "--format", "json")
    assert refused.exit_code == 4
    assert envelope(refused)["error_code"] == "JOB_NOT_DONE"
    assert not (tmp_path / job_id).exists()
    assert list(tmp_path.glob(".*partial*")) == []
    run("job", "abort", job_id, "--force")


# --- exit codes 1 and 3, monitor ------------------------------------------------------------


def test_monitor_jsonl_streams_progress_then_one_terminal_event(
    fed: Federation, tmp_path: Path
) -> None:
    job_id = submit(toy(tmp_path, "watched", num_rounds=3))
    result = run(
        "job", "monitor", job_id, "--format", "jsonl", "--metric", "score",
        "--stats-target", "all", "--interval", "0.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stream = events(result)
    *progress, last = stream
    assert progress, "expected progress events before the terminal one"
    assert all(e["terminal"] is False and e["event"] == "progress" for e in progress)
    assert all(e["schema_version"] == "1" and e["job_id"] == job_id for e in stream)
    assert {"metrics", "sites"} <= set(progress[-1])
    assert last["terminal"] is True and last["event"] == "terminal"
    assert (last["status"], last["job_status"]) == ("COMPLETED", "FINISHED_OK")
    assert isinstance(last["metrics"]["score"], float)
    rounds = [e["current_round"] for e in progress if e["current_round"]]
    assert rounds == sorted(rounds) and rounds[-1] == 3

    human = run("job", "monitor", job_id)
    assert human.exit_code == 0 and "COMPLETED" in human.stdout
    as_json = run("job", "monitor", job_id, "--format", "json")
    assert envelope(as_json)["data"]["job_status"] == "FINISHED_OK"


def test_failing_job_exits_1_in_every_mode(fed: Federation, tmp_path: Path) -> None:
    job_id = submit(toy(tmp_path, "failing", FAIL))
    waited = run("job", "wait", job_id, "--format", "json")
    assert waited.exit_code == 1
    env = envelope(waited)
    assert env["error_code"] == "JOB_FAILED"
    assert env["data"]["job_status"] in {s.value for s in JOB_TERMINAL} - {"FINISHED_OK"}
    assert any("boom" in e["error"] for e in env["data"]["site_errors"])
    stream = events(run("job", "monitor", job_id, "--format", "jsonl"))
    assert stream[-1]["terminal"] is True and stream[-1]["exit_code"] == 1
    assert stream[-1]["job_status"] == env["data"]["job_status"]
    human = cohort("job", "wait", job_id)
    assert human.returncode == 1 and "boom" in human.stderr
    stats = envelope(run("job", "stats", job_id, "--format", "json"))["data"]
    assert any("boom" in err for s in stats["sites"].values() for err in s["errors"])


def test_timeout_exits_3_then_abort_needs_force(fed: Federation, tmp_path: Path) -> None:
    job_id = submit(toy(tmp_path, "slow", SLOW))
    wait_running(fed, job_id)
    timed = run("job", "wait", job_id, "--timeout", "1", "--format", "json")
    assert timed.exit_code == 3
    env = envelope(timed)
    assert env["error_code"] == "TIMEOUT" and env["data"]["job_id"] == job_id
    stream = events(run("job", "monitor", job_id, "--timeout", "1", "--format", "jsonl"))
    assert stream[-1]["terminal"] is True and stream[-1]["status"] == "TIMEOUT"
    assert stream[-1]["exit_code"] == 3
    assert all(e["terminal"] is False for e in stream[:-1])
    assert cohort("job", "monitor", job_id, "--timeout", "0.5").returncode == 3

    started = time.monotonic()
    refused = cohort("job", "abort", job_id)  # stdin is /dev/null: must not wait for input
    assert refused.returncode == 4 and "CONFIRMATION_REQUIRED" in refused.stderr
    assert time.monotonic() - started < 30
    assert fed.api.get_job(job_id).status == JobStatus.RUNNING

    aborted = envelope(run("job", "abort", job_id, "--force", "--format", "json"))["data"]
    assert aborted["aborted"] is True and aborted["status"] == "ABORTED"
    assert run("job", "wait", job_id).exit_code == 1  # ABORTED is a failure status
    twice = run("job", "abort", job_id, "--force")
    assert twice.exit_code == 0 and "already ended" in twice.stdout


def on_a_terminal(answer: str, *args: str) -> tuple[int, str, str]:
    """``cohort ARGS`` as a real process whose stdin is a terminal (a pty) that types
    ``answer``; its exit status, stdout and stderr."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cohort.cli.main", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        os.write(master, answer.encode())  # the terminal buffers the line until it is read
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, out, err


def test_abort_and_delete_ask_for_confirmation_on_a_terminal(
    fed: Federation, tmp_path: Path
) -> None:
    job_id = submit(toy(tmp_path, "asked", SLOW))
    wait_running(fed, job_id)
    code, out, err = on_a_terminal("n\n", "job", "abort", job_id, "--format", "json")
    assert code == 4 and f"Abort job {job_id}? [y/N]" in err
    assert json.loads(out)["error_code"] == "CONFIRMATION_REQUIRED"
    assert fed.api.get_job(job_id).status == JobStatus.RUNNING
    code, out, err = on_a_terminal("y\n", "job", "abort", job_id, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["data"]["aborted"] is True  # stdout: the envelope only
    code, out, err = on_a_terminal("\n", "job", "delete", job_id)  # the default is no
    assert code == 4 and "not confirmed" in err
    code, out, err = on_a_terminal("yes\n", "job", "delete", job_id)
    assert code == 0 and out.strip() == f"job {job_id}: deleted", err
    assert fed.api.list_jobs(id_prefix=job_id) == []


# --- studies --------------------------------------------------------------------------------


def test_study_scopes_every_job_id_command(fed: Federation, tmp_path: Path) -> None:
    job_id = submit(toy(tmp_path, "studied"), "--study", "cancer_research")
    for command in (["meta"], ["wait"], ["stats"], ["logs"], ["clone"], ["abort", "--force"]):
        missed = run("job", *command, job_id, "--format", "json")
        assert missed.exit_code == 4, command
        env = envelope(missed)
        assert env["error_code"] == "JOB_NOT_FOUND"
        assert "'default'" in env["message"] and "--study" in env["hint"]
    found = run("job", "wait", job_id, "--study", "cancer_research", "--format", "json")
    assert envelope(found)["data"]["study"] == "cancer_research"
    default_list = envelope(run("job", "list", "--format", "json"))["data"]
    assert job_id not in [j["job_id"] for j in default_list["jobs"]]
    studied = run("job", "list", "--study", "cancer_research", "--format", "json")
    assert [j["job_id"] for j in envelope(studied)["data"]["jobs"]] == [job_id]
    every = envelope(run("job", "list", "--study", "all", "--format", "json"))["data"]
    assert job_id in [j["job_id"] for j in every["jobs"]]
    human = run("job", "meta", job_id)
    assert human.exit_code == 4 and "--study" in human.stderr


# --- retry-safe submit tokens ---------------------------------------------------------------


def test_submit_token_retry_conflict_and_deleted_job(fed: Federation, tmp_path: Path) -> None:
    folder = toy(tmp_path, "tokened")
    token = "ci-run-42:attempt_1.0"
    first = submit(folder, "--submit-token", token)
    retry = run("job", "submit", "-j", str(folder), "--submit-token", token, "--format", "json")
    assert envelope(retry)["data"] == {
        "job_id": first,
        "study": "default",
        "created": False,
        "submit_token": token,
    }
    wrapped = tmp_path / "tokened.zip"  # zip -r tokened.zip tokened/: same content
    with zipfile.ZipFile(wrapped, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"tokened/{path.relative_to(folder).as_posix()}")
    assert submit(wrapped, "--submit-token", token) == first

    changed = toy(tmp_path, "tokened-2", "    pass")
    conflict = run("job", "submit", "-j", str(changed), "--submit-token", token, "--format", "json")
    assert conflict.exit_code == 4
    env = envelope(conflict)
    assert env["error_code"] == "SUBMIT_TOKEN_CONFLICT" and env["data"]["job_id"] == first

    other_study = submit(folder, "--submit-token", token, "--study", "elsewhere")
    assert other_study != first
    found = run("job", "list", "--submit-token", token, "--format", "json")
    assert envelope(found)["data"]["job_id"] == first
    unknown = envelope(run("job", "list", "--submit-token", "never-used", "--format", "json"))
    assert unknown["data"]["jobs"] == [] and unknown["data"]["job_id"] is None
    stored_meta = fed.server_ws() / "artifacts" / "jobs" / first / "job" / "meta.json"
    assert token not in stored_meta.read_text()  # server-owned, never in the job's meta.json

    run("job", "wait", first)
    deleted = envelope(run("job", "delete", first, "--force", "--format", "json"))["data"]
    assert deleted["job_id"] == first and deleted["submit_records_marked_deleted"] == 1
    for argv in (
        ["job", "submit", "-j", str(folder), "--submit-token", token],
        ["job", "submit", "-j", str(changed), "--submit-token", token],
        ["job", "list", "--submit-token", token],
    ):
        gone = run(*argv, "--format", "json")
        assert gone.exit_code == 4
        env = envelope(gone)
        assert env["error_code"] == "SUBMIT_TOKEN_JOB_DELETED"
        assert env["data"]["job_id"] == first and env["data"]["state"] == "job_deleted"
        assert env["data"]["deleted_time"]  # ISO 8601
    human = run("job", "list", "--submit-token", token)
    assert human.exit_code == 4 and "new submit token" in human.stderr
    assert submit(folder, "--submit-token", token + "-2") != first
    for job_id in (other_study,):
        run("job", "abort", job_id, "--force", "--study", "elsewhere")


def test_twenty_concurrent_submits_with_one_token_create_one_job(
    fed: Federation, tmp_path: Path
) -> None:
    folder = toy(tmp_path, "racing", SLOW)
    barrier = threading.Barrier(20)
    ids: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with AdminAPI(load_kit(fed.layout.admin_kit)) as api:
                barrier.wait(30)
                ids.append(api.submit(folder, "races", "same-token").job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and len(ids) == 20 and len(set(ids)) == 1
    jobs = envelope(run("job", "list", "--study", "races", "--format", "json"))["data"]["jobs"]
    assert [j["job_id"] for j in jobs] == ids[:1]
    deleted = run("job", "delete", ids[0], "--study", "races", "--force")
    assert deleted.exit_code == 0 and "deleted (aborted first)" in deleted.stdout


# --- delete ---------------------------------------------------------------------------------


def test_delete_of_a_running_job_aborts_it_and_clears_every_workspace(
    fed: Federation, tmp_path: Path
) -> None:
    job_id = submit(toy(tmp_path, "doomed", SLOW))
    wait_running(fed, job_id)
    site_dirs = [fed.tmp / f"{site}-ws" / "jobs" / job_id for site in fed.sites]
    server_dir = fed.server_ws() / "artifacts" / "jobs" / job_id
    assert server_dir.is_dir() and all(d.is_dir() for d in site_dirs)
    refused = cohort("job", "delete", job_id)
    assert refused.returncode == 4 and "--force" in refused.stderr
    deleted = cohort("job", "delete", job_id, "--force", "--format", "json")
    assert deleted.returncode == 0, deleted.stderr
    data = json.loads(deleted.stdout)["data"]
    assert data["aborted_first"] is True and data["submit_records_marked_deleted"] == 0
    assert data["site_cleanup_pending"] == fed.sites
    assert not server_dir.exists()
    deadline = time.monotonic() + 30
    while any(d.exists() for d in site_dirs):
        assert time.monotonic() < deadline, f"site workspaces left: {site_dirs}"
        time.sleep(0.2)
    gone = run("job", "meta", job_id, "--format", "json")
    assert gone.exit_code == 4 and envelope(gone)["error_code"] == "JOB_NOT_FOUND"
    human = run("job", "delete", job_id, "--force")
    assert human.exit_code == 4 and "JOB_NOT_FOUND" in human.stderr


# --- logs -----------------------------------------------------------------------------------


def test_log_bounds_apply_in_order_on_real_logs(fed: Federation, tmp_path: Path) -> None:
    job_id = submit(toy(tmp_path, "logged", num_rounds=3))
    run("job", "wait", job_id)

    def logs(*extra: str) -> dict[str, Any]:
        result = run("job", "logs", job_id, "--format", "json", *extra)
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = envelope(result)["data"]
        return data

    full = logs("--site", "all", "--tail", "1000")
    server = full["logs"]["server"].splitlines()
    assert len(server) > 4 and full["filters"]["default_tail_applied"] is False
    tail = logs("--tail", "2")
    assert tail["logs"]["server"].splitlines() == server[-2:]
    assert tail["logs_truncated"] is True and tail["sites"]["server"]["lines"] == 2
    small = logs("--max-bytes", "40")
    assert small["sites"]["server"]["bytes"] <= 40
    # --since keeps the lines stamped at or after the 3rd line's time (each line is stamped)
    stamp = server[2][:23]
    since = logs("--since", stamp.replace(",", "."))["logs"]["server"].splitlines()
    assert since == [line for line in server if line[:23] >= stamp]
    assert len(since) < len(server)
    assert logs("--since", "2999-01-01")["logs"]["server"] == ""
    # since, then tail, then max-bytes
    combined = logs("--since", stamp, "--tail", "3", "--max-bytes", "4000")
    assert combined["logs"]["server"].splitlines() == since[-3:]
    assert combined["filters"] == {
        "since": combined["filters"]["since"],
        "tail": 3,
        "max_bytes": 4000,
        "default_tail_applied": False,
        "order": ["since", "tail", "max_bytes"],
    }
    sites = logs("--site", "all", "--since", "2999-01-01")
    assert sites["sites"]["site-1"]["since_applied"] is False  # plain prints: no timestamps
    assert sites["logs"]["site-1"] == full["logs"]["site-1"]
    unknown = run("job", "logs", job_id, "--site", "site-9", "--format", "json")
    assert unknown.exit_code == 4 and envelope(unknown)["error_code"] == "SITE_NOT_FOUND"


def test_sites_without_streamed_logs_are_reported_unavailable(
    fed: Federation, tmp_path: Path
) -> None:
    folder = toy(tmp_path, "quiet")
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "log_streaming": False}))
    job_id = submit(folder)
    assert run("job", "wait", job_id).exit_code == 0
    every = envelope(run("job", "logs", job_id, "--site", "all", "--format", "json"))["data"]
    assert set(every["logs"]) == {"server"}
    assert set(every["unavailable"]) == {"site-1", "site-2"}
    assert "log_streaming" in every["unavailable"]["site-1"]
    assert every["sites"]["site-2"]["available"] is False
    one = run("job", "logs", job_id, "--site", "site-1", "--format", "json")
    assert one.exit_code == 4 and envelope(one)["error_code"] == "LOG_NOT_FOUND"
    # The site still has its own copy of the log.
    assert (fed.tmp / "site-1-ws" / "jobs" / job_id / "log.txt").read_text()


# --- log-config -----------------------------------------------------------------------------


def test_log_config_changes_the_level_of_running_processes(fed: Federation, tmp_path: Path) -> None:
    job_id = submit(toy(tmp_path, "chatty", LOGGING, num_rounds=8))
    wait_running(fed, job_id)
    invalid = run("job", "log-config", job_id, "LOUD", "--format", "json")
    assert invalid.exit_code == 4
    unknown_site = run("job", "log-config", job_id, "DEBUG", "--site", "site-9", "--format", "json")
    assert envelope(unknown_site)["error_code"] == "SITE_NOT_FOUND"
    changed = run("job", "log-config", job_id, "debug", "--format", "json")
    assert changed.exit_code == 0, changed.output
    targets = envelope(changed)["data"]["targets"]
    assert set(targets) == {"server", "site-1", "site-2"}
    assert all(t["level"] == "DEBUG" for t in targets.values())
    mode = run("job", "log-config", job_id, "concise", "--site", "server")
    assert mode.exit_code == 0 and "server" in mode.stdout
    assert run("job", "wait", job_id).exit_code == 0
    logs = envelope(run("job", "logs", job_id, "--site", "all", "--format", "json"))["data"]
    site_log = logs["logs"]["site-1"]
    assert "debug line of round" in site_log  # debug records only show once DEBUG is set
    assert "debug line of round 1\n" not in site_log.split("log config applied")[0]
    server_log = logs["logs"]["server"]
    assert " - DEBUG - POST " in server_log or " DEBUG POST " in server_log
    assert any(line.split(" ")[2] == "INFO" for line in server_log.splitlines()[-3:])  # concise
    ended = run("job", "log-config", job_id, "INFO", "--format", "json")
    assert ended.exit_code == 4 and envelope(ended)["error_code"] == "JOB_NOT_RUNNING"


# --- recipe export, submit --debug, format anywhere -----------------------------------------


def test_exported_recipe_submits_and_runs(fed: Federation, tmp_path: Path) -> None:
    out = tmp_path / "hello"
    example = Path(__file__).resolve().parents[2] / "examples" / "hello-numpy" / "job.py"
    exported = subprocess.run(
        [sys.executable, str(example), "--export", "--export-dir", str(out), "--num-rounds", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    submitted = cohort("job", "submit", "--format", "json", "-j", str(out), "--debug")
    assert submitted.returncode == 0, submitted.stderr
    data = json.loads(submitted.stdout)["data"]
    assert (Path(data["debug_folder"]) / "job.zip").is_file()
    done = cohort("job", "wait", "--format", "json", data["job_id"], "--interval", "0.5")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["data"]["status"] == "COMPLETED"


# --- exit code 2 ----------------------------------------------------------------------------


def test_stopped_server_is_exit_2_in_every_mode(tmp_path: Path, monkeypatch: Any) -> None:
    with Federation(tmp_path, 1) as solo:
        solo.start(sites=[])
        monkeypatch.setenv("COHORT_STARTUP_KIT_DIR", str(solo.layout.admin_kit))
        job_id = submit(toy(tmp_path, "orphan", min_clients=1))  # waits: no site is up
        solo.kill("server")
        listed = run("job", "list", "--format", "json")
        assert listed.exit_code == 2
        assert envelope(listed)["error_code"] == "NO_CONNECTION"
        assert run("job", "wait", job_id, "--format", "json").exit_code == 2
        stream = run("job", "monitor", job_id, "--format", "jsonl")
        assert stream.exit_code == 2
        (event,) = events(stream)
        assert event["terminal"] is True and event["status"] == "error"
        assert event["error_code"] == "NO_CONNECTION" and event["exit_code"] == 2
        human = cohort("job", "meta", job_id)
        assert human.returncode == 2 and "NO_CONNECTION" in human.stderr


def test_a_kit_the_server_does_not_trust_is_exit_2(fed: Federation, tmp_path: Path) -> None:
    from cohort.provision.poc import prepare_poc

    # An admin kit of another project's CA, dialling this server: the TLS handshake fails.
    other = prepare_poc(tmp_path / "other", 1, port=fed.layout.port).admin_kit
    job_id = submit(toy(tmp_path, "trusted"))
    listed = run("job", "list", "--startup-kit", str(other), "--format", "json")
    assert listed.exit_code == 2, listed.output
    code = envelope(listed)["error_code"]
    assert code in {"NO_CONNECTION", "UNAUTHORIZED"}
    stream = run("job", "monitor", job_id, "--startup-kit", str(other), "--format", "jsonl")
    (event,) = events(stream)
    assert stream.exit_code == 2 and event["terminal"] is True
    assert event["status"] == "error" and event["error_code"] == code
    human = cohort("job", "wait", job_id, "--startup-kit", str(other))
    assert human.returncode == 2 and code in human.stderr
    assert run("job", "wait", job_id, "--format", "json").exit_code == 0  # the right kit
