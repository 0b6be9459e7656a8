"""The issue's user flow, as a user types it: `cohort poc prepare/start`, then a bash script
that submits with a token, waits, downloads, monitors and reads the logs, every command a
real process finding the POC's admin kit as the active startup kit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("poc_workflow")]

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
set -euo pipefail
cohort() { "$PYTHON" -m cohort.cli.main "$@"; }
job_id() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"]["job_id"])'; }
TOKEN=ci-run-$$
"$PYTHON" "$ROOT/examples/hello-numpy/job.py" --export --export-dir "$WORK/my_job" --num-rounds 2
JOB=$(cohort job submit -j "$WORK/my_job" --submit-token "$TOKEN" --format json | job_id)
AGAIN=$(cohort job submit -j "$WORK/my_job" --submit-token "$TOKEN" --format json | job_id)
[ "$JOB" = "$AGAIN" ]
cohort job wait "$JOB" --timeout 600 --format json > "$WORK/wait.json" \
  && cohort job download "$JOB" -o "$WORK/out" --format json > "$WORK/download.json"
cohort job monitor "$JOB" --format jsonl > "$WORK/monitor.jsonl"
cohort job logs "$JOB" --site all --tail 200 > "$WORK/logs.txt"
cohort job list --submit-token "$TOKEN" --format json > "$WORK/list.json"
echo "$JOB"
"""


@pytest.fixture
def poc_workspace(tmp_path: Path, cohort_home: Path) -> Iterator[Path]:
    """A prepared and started POC (2 sites), stopped at the end whatever happens."""
    workspace = tmp_path / "poc"
    env = {**os.environ, "COHORT_HOME": str(cohort_home)}

    def cohort(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cohort.cli.main", *args],
            capture_output=True, text=True, env=env, timeout=180, check=False,
        )  # fmt: skip

    prepared = cohort("poc", "prepare", "-n", "2", "--workspace", str(workspace))
    assert prepared.returncode == 0, prepared.stderr
    try:
        started = cohort("poc", "start", "--workspace", str(workspace), "--timeout", "90")
        assert started.returncode == 0, started.stderr
        yield workspace
    finally:
        cohort("poc", "stop", "--workspace", str(workspace))


def test_submit_wait_download_monitor_logs_in_a_shell_script(
    poc_workspace: Path, tmp_path: Path, cohort_home: Path
) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "COHORT_HOME": str(cohort_home),
        "PYTHON": sys.executable,
        "ROOT": str(ROOT),
        "WORK": str(work),
    }
    done = subprocess.run(
        [bash, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    job_id = done.stdout.strip().splitlines()[-1]

    waited = json.loads((work / "wait.json").read_text())
    assert waited["data"]["status"] == "COMPLETED" and waited["data"]["job_id"] == job_id
    download = json.loads((work / "download.json").read_text())["data"]
    assert download["download_path"] == str(work / "out" / job_id)
    assert download["missing_artifacts"] == []
    assert set(download["artifacts"]["client_logs"]) == {"site-1", "site-2"}
    events = [json.loads(line) for line in (work / "monitor.jsonl").read_text().splitlines()]
    assert events[-1]["terminal"] is True and events[-1]["status"] == "COMPLETED"
    assert all(e["terminal"] is False for e in events[:-1])
    # A POC streams every job's site logs by default: the server has them all.
    logs = (work / "logs.txt").read_text()
    assert "==> server <==" in logs and "==> site-1 <==" in logs and "==> site-2 <==" in logs
    stored = poc_workspace / "workspaces" / "server" / "artifacts" / "jobs" / job_id
    assert (stored / "workspace" / "site-2" / "log.txt").is_file()
    listed = json.loads((work / "list.json").read_text())["data"]
    assert listed["job_id"] == job_id and listed["count"] == 1
