"""Site faults on a real federation: a site cut off (its agent and script SIGSTOPped) for
longer than the task timeout comes back with a stale task, which is refused clearly; it then
gets the current task and serves the rest of the job. (A killed and restarted agent, and a
duplicate upload, are in test_failures.py; an upload retried across a server crash is in
test_crash_resume.py.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from cohort.provision.processes import wait_until_connected
from cohort.states import JOB_TERMINAL, JobStatus
from tests.integration.federation import (
    Federation,
    cmdline,
    job_pids,
    make_job,
    toy_script,
    wait_no_job_processes,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("site_faults")]


def _site_log(federation: Federation, site: str, job_id: str) -> str:
    path = federation.tmp / f"{site}-ws" / "jobs" / job_id / "log.txt"
    return path.read_text(errors="replace") if path.exists() else ""


def _until(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _script_pid(job_id: str, site: str) -> int:
    needle = f"COHORT_SITE_NAME={site}".encode()
    for pid in job_pids(job_id):
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
        if needle in environ and "train.py" in cmdline(pid):
            return pid
    raise AssertionError(f"no script of {site} in job {job_id}")


def test_site_cut_off_past_the_task_timeout_gets_its_stale_result_refused_and_rejoins(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start(timeout=120)
    release, back = tmp_path / "release", tmp_path / "site-3-back"
    # site-3 holds its round-2 result until released; site-1 waits in round 5 until site-3
    # is back, so the last round certainly asks site-3 again. A refused result is caught,
    # as docs/client-api.md advises, and the script goes on to the current task.
    hook = f"""\
    if site == "site-3" and rnd == 2:
        print("site-3 holding round 2", flush=True)
        while not os.path.exists({str(release)!r}):
            time.sleep(0.05)
    if site == "site-1" and rnd == 5:
        while not os.path.exists({str(back)!r}):
            time.sleep(0.05)
    from cohort.errors import CohortError
    try:
        flare.send(flare.FLModel(params={{"w": model.params["w"] + index}},
                                 meta={{"num_samples": index}}))
    except CohortError as exc:
        print(f"{{site}} round {{rnd}} refused: {{exc}}", flush=True)
    continue
"""
    task_timeout = 5.0
    job = make_job(
        tmp_path / "cut-off",
        toy_script(hook),
        num_rounds=6,
        min_clients=2,
        task_timeout=task_timeout,
        wait_after_min=30.0,
    )
    job_id = federation.submit(job)
    _until(
        "site-3 to hold round 2",
        lambda: "site-3 holding round 2" in _site_log(federation, "site-3", job_id),
        60,
    )
    script = _script_pid(job_id, "site-3")
    agent = federation.procs["site-3"].pid
    for group in (agent, script):
        os.killpg(group, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        # Cut off past the task timeout, while the job moves on without site-3.
        federation.wait_for(
            job_id,
            lambda r: (r.current_round or 0) >= 4 or r.status in JOB_TERMINAL,
            timeout=60,
        )
        _until("the task timeout to pass", lambda: time.monotonic() - stopped_at > task_timeout, 30)
        release.touch()
    finally:
        for group in (agent, script):
            os.killpg(group, signal.SIGCONT)
    _until(
        "site-3's stale round-2 result to be refused",
        lambda: "site-3 round 2 refused" in _site_log(federation, "site-3", job_id),
        60,
    )
    log = _site_log(federation, "site-3", job_id)
    assert "TASK_NOT_ACTIVE" in log, log
    # Its script is back; the last round asks site-3 only if the server sees it connected
    # again when that round starts (its agent's next heartbeat), so wait for that first.
    wait_until_connected(federation.layout, ["site-3"], 60)
    back.touch()

    record = federation.wait(job_id, timeout=120)
    assert record.status == JobStatus.FINISHED_OK, record
    lost = [e for e in record.site_errors if e["site"] == "site-3"]
    assert lost and all(e["kind"] == "lost" for e in lost), record.site_errors
    rounds = federation.api.rounds(job_id)
    assert rounds[2].num_updates == 2, rounds  # round 2 closed without site-3
    assert rounds[-1].num_updates == 3, rounds  # site-3 took part again
    wait_no_job_processes(job_id)
