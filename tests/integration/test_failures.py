"""Failures provoked for real on a real federation: killed sites, killed job processes,
aborts at every stage, failing scripts, slow sites, duplicate uploads.

Every process is a real one (server, site agents, job processes, site scripts) and every
failure is a real one (signals, exceptions in the scripts); the tests wait for states through
the admin API and for processes through /proc with deadlines. The one deliberate sleep is
where a test checks that a final status stays final.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cohort.schemas.records import JobRecord
from cohort.states import JOB_TERMINAL, JobStatus
from tests.integration.federation import (
    Federation,
    cmdline,
    job_pids,
    make_job,
    toy_script,
    wait_no_job_processes,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("failures")]


# --- helpers ---------------------------------------------------------------------------------


def _site_of(pid: int) -> str | None:
    """The site a job process runs for (None for the server job process)."""
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"COHORT_SITE_NAME="):
            return item.split(b"=", 1)[1].decode()
    return None


def _server_job_pids(job_id: str) -> list[int]:
    return [p for p in job_pids(job_id) if "cohort.server.job_process" in cmdline(p)]


def _script_pids(job_id: str, site: str) -> list[int]:
    """Pids of a site's job script (not the children it spawned)."""
    return [p for p in job_pids(job_id) if _site_of(p) == site and "train.py" in cmdline(p)]


def _poll(what: str, check: Callable[[], object], timeout: float) -> object:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _site_log(federation: Federation, site: str, job_id: str) -> str:
    path = federation.tmp / f"{site}-ws" / "jobs" / job_id / "log.txt"
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _wait_site_log(
    federation: Federation, site: str, job_id: str, text: str, timeout: float = 60.0
) -> None:
    _poll(
        f"{site} to print {text!r} in job {job_id}",
        lambda: text in _site_log(federation, site, job_id),
        timeout,
    )


def _updates_dir(federation: Federation, job_id: str) -> Path:
    return federation.server_ws() / "artifacts" / "jobs" / job_id / "updates"


_UPDATE_NAME = re.compile(r"^(?P<round>\d+)-(?P<task>\w+)-(?P<site>site-\d+)-(?P<task_id>.+)$")


def _stored_updates(federation: Federation, job_id: str) -> list[dict[str, str]]:
    """The update files the server stored, parsed from their names."""
    found = []
    for path in sorted(_updates_dir(federation, job_id).iterdir()):
        match = _UPDATE_NAME.match(path.name)
        if match:
            found.append({**match.groupdict(), "path": str(path)})
    return found


def _job(tmp_path: Path, name: str, script: str, **kwargs: Any) -> Path:
    return make_job(tmp_path / name, script, **kwargs)


def _ended(record: JobRecord) -> bool:
    return record.status in JOB_TERMINAL


def _errors_of(record: JobRecord, site: str) -> list[dict[str, object]]:
    return [e for e in record.site_errors if e.get("site") == site]


#: site-3 announces it is in round 2, then hangs there (until it is killed).
_SITE3_HANGS_IN_ROUND_2 = """\
    if site == "site-3" and rnd == 2:
        print("site-3 hangs in round 2", flush=True)
        time.sleep(30)
"""


# --- 1, 2: a site killed mid-job ---------------------------------------------------------------


def _kill_site3_in_round_2(federation: Federation, job_id: str) -> float:
    """Wait until site-3's script hangs in round 2, SIGKILL site-3's agent group, and check
    that the script died with it (parent-death signal). Returns the wall time of the kill."""
    _wait_site_log(federation, "site-3", job_id, "site-3 hangs in round 2")
    scripts = _script_pids(job_id, "site-3")
    assert len(scripts) == 1, scripts
    killed_at = time.time()
    federation.kill("site-3")
    _poll(
        "site-3's script to die with its agent",
        lambda: not _script_pids(job_id, "site-3"),
        10.0,
    )
    return killed_at


def test_site_killed_mid_job_is_dropped_when_min_clients_allows(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    folder = _job(
        tmp_path,
        "kill-site",
        toy_script(_SITE3_HANGS_IN_ROUND_2),
        num_rounds=3,
        min_clients=2,
        task_timeout=120.0,
        # Long enough that round 2 can only close early through the heartbeat path.
        wait_after_min=60.0,
    )
    job_id = federation.submit(folder)
    killed_at = _kill_site3_in_round_2(federation, job_id)

    record = federation.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_OK, record
    rounds = federation.api.rounds(job_id)
    assert [r.round for r in rounds] == [0, 1, 2, 3]
    assert [r.num_updates for r in rounds[1:]] == [3, 2, 2]  # site-3 gone from round 2 on
    errors = _errors_of(record, "site-3")
    assert errors, record.site_errors
    assert "stopped sending heartbeats" in str(errors[0]["error"])
    assert errors[0]["kind"] == "lost"
    assert float(errors[0]["time"]) >= killed_at  # type: ignore[arg-type]
    assert not _errors_of(record, "site-1") and not _errors_of(record, "site-2")
    # The survivors' updates are all there; site-3 contributed to round 1 only.
    stored = {
        (u["round"], u["site"]) for u in _stored_updates(federation, job_id) if u["task"] == "train"
    }
    assert {k for k in stored if k[1] == "site-3"} == {("1", "site-3")}
    for rnd in ("1", "2", "3"):
        assert (rnd, "site-1") in stored and (rnd, "site-2") in stored
    wait_no_job_processes(job_id)


def test_site_killed_mid_job_fails_it_fast_when_min_clients_needs_it(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    folder = _job(
        tmp_path,
        "kill-site-min3",
        toy_script(_SITE3_HANGS_IN_ROUND_2),
        num_rounds=3,
        min_clients=3,
        task_timeout=120.0,  # far longer than the test: the end must come from heartbeats
        wait_after_min=60.0,
    )
    job_id = federation.submit(folder)
    killed_at = _kill_site3_in_round_2(federation, job_id)

    record = federation.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_EXCEPTION, record
    assert "site-3" in record.status_reason, record.status_reason
    assert "stopped sending heartbeats" in record.status_reason, record.status_reason
    assert "round 2" in record.status_reason, record.status_reason
    assert record.end_time is not None
    took = record.end_time - killed_at
    # Lost after site_dead_after without heartbeats, plus a reaper pass and the workflow's
    # reaction: seconds, not the 120 s task timeout.
    assert took < federation.site_dead_after + 10.0, took
    assert took >= federation.site_dead_after / 2, took  # not failed before it was lost
    assert [r.round for r in federation.api.rounds(job_id)] == [0, 1]
    wait_no_job_processes(job_id)


# --- 3: a site agent restarted mid-job ---------------------------------------------------------


def test_restarted_site_agent_rejoins_and_serves_later_rounds(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    back = tmp_path / "site-3-is-back"
    # site-2 is slow every round, and holds round 3 until the test says site-3 is back, so
    # the restart certainly happens mid-job.
    pace = f"""\
    if site == "site-2":
        time.sleep(1.0)
        if rnd == 3:
            _until = time.time() + 60
            while not os.path.exists({str(back)!r}) and time.time() < _until:
                time.sleep(0.1)
"""
    num_rounds = 5
    folder = _job(
        tmp_path,
        "restart-site",
        toy_script(pace),
        num_rounds=num_rounds,
        min_clients=2,
        task_timeout=120.0,
        wait_after_min=60.0,
    )
    job_id = federation.submit(folder)
    _wait_site_log(federation, "site-3", job_id, "site-3 round 2")
    (old_script,) = _script_pids(job_id, "site-3")
    killed_at = time.time()
    federation.kill("site-3")
    _poll("site-3's old script to die", lambda: old_script not in job_pids(job_id), 10.0)

    federation.start_site("site-3")
    new_scripts = _poll(
        "the restarted site-3 to run the job's script again",
        lambda: [p for p in _script_pids(job_id, "site-3") if p != old_script],
        60.0,
    )
    assert new_scripts
    mid = federation.api.get_job(job_id)
    assert mid.status == JobStatus.RUNNING, mid
    assert mid.current_round is not None and mid.current_round <= 3, mid
    back.touch()  # let round 3 finish

    record = federation.wait(job_id, timeout=90)
    assert record.status == JobStatus.FINISHED_OK, record
    rounds = federation.api.rounds(job_id)
    assert [r.round for r in rounds] == list(range(num_rounds + 1))
    assert rounds[-1].num_updates == 3, rounds
    assert rounds[-2].num_updates == 3, rounds
    # site-3's last-round update was uploaded by the restarted agent's script.
    last = [
        u
        for u in _stored_updates(federation, job_id)
        if u["round"] == str(num_rounds) and u["task"] == "train"
    ]
    assert sorted(u["site"] for u in last) == ["site-1", "site-2", "site-3"]
    site3 = next(u for u in last if u["site"] == "site-3")
    assert os.path.getmtime(site3["path"]) > killed_at
    assert not any(e.get("kind") == "failed" for e in record.site_errors), record.site_errors
    wait_no_job_processes(job_id)


# --- 4, 5: abort ------------------------------------------------------------------------------


def test_abort_while_dispatching_is_final(federation: Federation, tmp_path: Path) -> None:
    federation.start()
    # Slow rounds, so that no job can finish by itself before it is aborted.
    script = toy_script("    time.sleep(2)\n")
    # Abort right after submit, then later and later: SUBMITTED, DISPATCHED (the job process
    # starting), and RUNNING.
    delays = [0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.5, 3.0]
    jobs: list[JobRecord] = []
    phases: list[str] = []
    for i, delay in enumerate(delays):
        job_id = federation.submit(_job(tmp_path, f"abort-{i}", script, num_rounds=3))
        if delay:
            time.sleep(delay)
        aborted = federation.api.abort_job(job_id)
        assert aborted.status == JobStatus.ABORTED, aborted
        jobs.append(aborted)
        phases.append(
            "RUNNING"
            if aborted.start_time is not None
            else ("DISPATCHED" if aborted.sites else "SUBMITTED")
        )
    # The abort must have met jobs past SUBMITTED, or the test proves little.
    assert set(phases) - {"SUBMITTED"}, phases

    time.sleep(3.0)  # well past the moment the last job's process would have marked it RUNNING
    for aborted in jobs:
        record = federation.api.get_job(aborted.job_id)
        assert record.status == JobStatus.ABORTED, (record, phases)
        # Nothing wrote over the abort: not the reason, not the end time.
        assert record.status_reason == aborted.status_reason, record
        assert "aborted by" in record.status_reason, record
        assert aborted.end_time is not None and record.end_time == aborted.end_time, record
    for aborted in jobs:
        wait_no_job_processes(aborted.job_id)
    for aborted in jobs:  # and nothing moved it afterwards either
        assert federation.api.get_job(aborted.job_id).status == JobStatus.ABORTED
    print("abort met the jobs in phases:", phases)


def test_abort_stops_the_whole_process_tree_everywhere(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    spawn = (
        "flare.init()\n"
        "import subprocess\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    )
    # site-1 and site-2 sleep in training when the abort comes; site-3 answers round 1 and
    # waits for round 2 in the client API, so the abort reaches its script both through the
    # agent and through the job ending under it (the script may then exit on its own first).
    base = toy_script(
        '    if site != "site-3":\n'
        '        print(f"{site} sleeps in round {rnd}", flush=True)\n'
        "        time.sleep(120)\n"
    )
    script = base.replace("flare.init()\n", spawn, 1)
    assert script != base
    job_id = federation.submit(
        _job(tmp_path, "abort-tree", script, task_timeout=300.0, min_clients=3)
    )
    federation.wait_for(job_id, lambda r: r.status == JobStatus.RUNNING, timeout=60)
    _wait_site_log(federation, "site-1", job_id, "site-1 sleeps in round 1")
    _wait_site_log(federation, "site-2", job_id, "site-2 sleeps in round 1")
    _wait_site_log(federation, "site-3", job_id, "site-3 round 1")

    def whole_tree() -> list[int]:
        pids = job_pids(job_id)
        return pids if len(pids) == 7 else []

    pids = _poll("server job process + 3 scripts + 3 children", whole_tree, 60.0)
    assert isinstance(pids, list)
    kinds = sorted(
        "server"
        if "cohort.server.job_process" in cmdline(p)
        else ("child" if "time.sleep(600)" in cmdline(p) else "script")
        for p in pids
    )
    assert kinds == ["child"] * 3 + ["script"] * 3 + ["server"], {p: cmdline(p) for p in pids}
    assert sorted(filter(None, (_site_of(p) for p in pids))) == sorted(
        ["site-1", "site-2", "site-3"] * 2
    )

    aborted = federation.api.abort_job(job_id)
    assert aborted.status == JobStatus.ABORTED, aborted
    wait_no_job_processes(job_id, timeout=30.0)
    assert federation.api.get_job(job_id).status == JobStatus.ABORTED


def test_finished_job_leaves_no_process_its_scripts_started(
    federation: Federation, tmp_path: Path
) -> None:
    # The scripts end by themselves when the job ends; the children they started (holding
    # the scripts' output open) must not outlive the job.
    federation.start()
    spawn = (
        "flare.init()\n"
        "import subprocess\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        'print(f"{flare.get_site_name()} child {child.pid}", flush=True)\n'
    )
    base = toy_script()
    script = base.replace("flare.init()\n", spawn, 1)
    assert script != base
    job_id = federation.submit(_job(tmp_path, "children", script, num_rounds=1))
    record = federation.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_OK, record
    for site in federation.sites:
        assert f"{site} child " in _site_log(federation, site, job_id)
    wait_no_job_processes(job_id, timeout=30.0)


# --- 6: the server job process killed ---------------------------------------------------------


def test_killed_server_job_process_fails_the_job_and_the_scheduler_goes_on(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    slow = _job(tmp_path, "doomed", toy_script("    time.sleep(60)\n"), task_timeout=300.0)
    job_id = federation.submit(slow)
    federation.wait_for(job_id, lambda r: r.status == JobStatus.RUNNING, timeout=60)
    found = _poll("the server job process", lambda: _server_job_pids(job_id), 30.0)
    assert isinstance(found, list) and len(found) == 1, found
    killed_at = time.time()
    os.kill(found[0], signal.SIGKILL)

    record = federation.wait_for(job_id, _ended, timeout=30)
    assert record.status == JobStatus.FINISHED_EXCEPTION, record
    assert "SIGKILL" in record.status_reason, record.status_reason
    assert record.end_time is not None and record.end_time - killed_at < 10.0, record
    wait_no_job_processes(job_id)  # the sites stopped their scripts too

    next_id = federation.submit(_job(tmp_path, "after", toy_script()))
    after = federation.wait(next_id, timeout=90)
    assert after.status == JobStatus.FINISHED_OK, after
    assert federation.api.get_job(job_id).status == JobStatus.FINISHED_EXCEPTION


def test_killed_server_takes_its_job_processes_with_it(
    federation: Federation, tmp_path: Path
) -> None:
    # Without the parent-death signal the job process would retry its calls to the dead
    # server for minutes, holding the job's files.
    federation.start()
    slow = _job(tmp_path, "orphan", toy_script("    time.sleep(60)\n"), task_timeout=300.0)
    job_id = federation.submit(slow)
    federation.wait_for(job_id, lambda r: r.status == JobStatus.RUNNING, timeout=60)
    found = _poll("the server job process", lambda: _server_job_pids(job_id), 30.0)
    assert isinstance(found, list) and len(found) == 1, found

    federation.kill("server")  # the server's own group; the job process has its own session
    _poll("the job process to die with the server", lambda: not _server_job_pids(job_id), 10.0)


# --- 7: failing scripts -----------------------------------------------------------------------


def test_script_failing_at_import_fails_the_job_with_each_sites_traceback(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    folder = _job(
        tmp_path, "import-error", "import not_a_module_xyz\n" + toy_script(), task_timeout=60.0
    )
    job_id = federation.submit(folder)
    record = federation.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_EXCEPTION, record
    assert record.end_time is not None and record.end_time - record.submit_time < 40.0, record
    for site in federation.sites:
        errors = _errors_of(record, site)
        assert errors, (site, record.site_errors)
        error, tail = str(errors[0]["error"]), str(errors[0]["traceback_tail"])
        assert "ModuleNotFoundError" in error and "not_a_module_xyz" in error, error
        assert "Traceback" in tail and "not_a_module_xyz" in tail, tail
        assert errors[0]["kind"] == "failed"
    assert federation.api.rounds(job_id) == []
    wait_no_job_processes(job_id)


def test_script_raising_in_round_2_fails_the_job_with_the_error(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    boom = '    if rnd == 2:\n        raise RuntimeError("boom in round 2")\n'
    folder = _job(tmp_path, "boom", toy_script(boom), num_rounds=3, task_timeout=60.0)
    job_id = federation.submit(folder)
    record = federation.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_EXCEPTION, record
    assert "round 2" in record.status_reason and "boom in round 2" in record.status_reason
    assert record.end_time is not None and record.end_time - record.submit_time < 40.0, record
    for site in federation.sites:
        errors = _errors_of(record, site)
        assert errors, (site, record.site_errors)
        assert "boom in round 2" in str(errors[0]["error"]), errors
        tail = str(errors[0]["traceback_tail"])
        assert "Traceback" in tail and 'raise RuntimeError("boom in round 2")' in tail, tail
    rounds = federation.api.rounds(job_id)
    assert [(r.round, r.num_updates) for r in rounds] == [(0, 0), (1, 3)]
    wait_no_job_processes(job_id)


# --- 8: too few sites -------------------------------------------------------------------------


def test_job_waiting_for_sites_says_why_and_gives_up_at_its_scheduling_timeout(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start(sites=["site-1"])
    folder = _job(tmp_path, "lonely", toy_script(), min_clients=2, scheduling_timeout=3.0)
    job_id = federation.submit(folder)
    seen: list[JobRecord] = []

    def note(record: JobRecord) -> bool:
        seen.append(record)
        return _ended(record)

    record = federation.wait_for(job_id, note, timeout=30)
    waiting = [
        r
        for r in seen
        if r.status == JobStatus.SUBMITTED and r.status_reason == "waiting for 2 sites, 1 connected"
    ]
    assert waiting, [(r.status, r.status_reason) for r in seen]
    assert record.status == JobStatus.FAILED, record
    assert "waiting for 2 sites, 1 connected" in record.status_reason, record.status_reason
    assert "not scheduled within 3 s" in record.status_reason, record.status_reason
    assert record.end_time is not None
    assert 3.0 <= record.end_time - record.submit_time < 10.0, record
    assert record.start_time is None and federation.api.rounds(job_id) == []
    assert not job_pids(job_id)


# --- 9: a slow site is not a dead site --------------------------------------------------------


def test_site_training_longer_than_site_dead_after_stays_alive(
    federation: Federation, tmp_path: Path
) -> None:
    federation.start()
    slow = 5.0
    assert slow > federation.site_dead_after > federation.heartbeat_interval
    script = toy_script(f'    if site == "site-2" and rnd == 1:\n        time.sleep({slow})\n')
    folder = _job(tmp_path, "slow-site", script, num_rounds=2, min_clients=2, wait_after_min=60.0)
    job_id = federation.submit(folder)
    record = federation.wait(job_id, timeout=90)
    assert record.status == JobStatus.FINISHED_OK, record
    assert record.site_errors == [], record.site_errors
    rounds = federation.api.rounds(job_id)
    assert [r.num_updates for r in rounds[1:]] == [3, 3], rounds
    # Round 1 really waited for the slow site (it took longer than site_dead_after).
    assert rounds[1].created - rounds[0].created >= slow - 0.5, rounds


# --- 10: a duplicate upload -------------------------------------------------------------------


def test_duplicate_upload_is_counted_once(federation: Federation, tmp_path: Path) -> None:
    from cohort.errors import CohortError, ErrorCode
    from cohort.httpclient import check_response, kit_client
    from cohort.provision.kit import load_kit

    federation.start()
    twice = """\
    w = model.params["w"] + index
    result = flare.FLModel(params={"w": w}, meta={"num_samples": index})
    flare.send(result, clear_cache=False)
    flare.send(result)
    print(f"{site} round {rnd} sent twice", flush=True)
    continue
"""
    num_rounds = 3
    folder = _job(tmp_path, "dup", toy_script(twice), num_rounds=num_rounds, min_clients=3)
    job_id = federation.submit(folder)
    record = federation.wait(job_id, timeout=90)
    assert record.status == JobStatus.FINISHED_OK, record
    assert record.site_errors == [], record.site_errors
    for site in federation.sites:
        log = _site_log(federation, site, job_id)
        for rnd in range(1, num_rounds + 1):
            assert f"{site} round {rnd} sent twice" in log, log
    rounds = federation.api.rounds(job_id)
    assert [r.num_updates for r in rounds[1:]] == [3] * num_rounds, rounds
    # Each site weighs its index: the mean grows by (1*1 + 2*2 + 3*3) / 6 per round. Counting
    # a duplicate twice would change the weights.
    assert [r.num_samples for r in rounds[1:]] == [6] * num_rounds, rounds
    stored = [u for u in _stored_updates(federation, job_id) if u["task"] == "train"]
    assert len(stored) == 3 * num_rounds, stored
    leftovers = [p.name for p in _updates_dir(federation, job_id).glob("incoming-*")]
    assert leftovers == [], leftovers

    # The same bytes once more, straight through the fleet API with site-1's identity: an
    # acknowledged duplicate. Different bytes for the same task are refused.
    mine = next(u for u in stored if u["site"] == "site-1" and u["round"] == "1")
    other = next(u for u in stored if u["site"] == "site-2" and u["round"] == "1")
    url = f"/fleet/v1/jobs/{job_id}/tasks/{mine['task_id']}/result"
    headers = {"Content-Type": "application/octet-stream"}
    with kit_client(load_kit(federation.layout.site_kits["site-1"])) as http:
        again = check_response(
            http.post(url, content=Path(mine["path"]).read_bytes(), headers=headers)
        ).json()
        assert again["accepted"] is True and again["duplicate"] is True, again
        assert again["task_id"] == mine["task_id"]
        response = http.post(url, content=Path(other["path"]).read_bytes(), headers=headers)
        assert response.status_code == 409, response.text
        with pytest.raises(CohortError) as info:
            check_response(response)
        assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert [r.num_updates for r in federation.api.rounds(job_id)[1:]] == [3] * num_rounds
    assert len([u for u in _stored_updates(federation, job_id) if u["task"] == "train"]) == len(
        stored
    )
