"""Crash-resume for real: the server (API process and its job processes) is SIGKILLed at a
fault point of a running FedAvg job on breast cancer data (2 sites, mTLS, real processes),
started again on the same workspace, and the job resumes and finishes with the global model an
uninterrupted run gives, bit for bit, each site's update counted once per round.

The kill points are hooks in the code (``cohort.faults``), armed through the server's
environment, not sleeps.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.faults import FAULT_ENV, HOLD_ENV, RELEASE_ENV
from cohort.provision.processes import wait_until_connected
from cohort.schemas.records import JobRecord
from cohort.server.services.logstore import server_log_key
from cohort.server.services.retention import best_round
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.store import open_store
from tests.algorithms.realdata import real_job
from tests.integration.federation import Federation, cmdline, job_pids, wait_no_job_processes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("crash_resume")]

NUM_ROUNDS = 3
SCRIPT_ARGS = ["--data", "breast_cancer", "--shares", "2"]

# Updates arrive: 1 = the initial model (submit_model), 2-3 = round 1, 4-5 = round 2, ...
# Job transitions in the API process: 1 = DISPATCHED, 2 = RUNNING.
# Each point with the last round recorded when the server died (None: no round yet).
KILL_POINTS = [
    ("job_transition:2", None),  # right after DISPATCHED -> RUNNING, before any round
    ("update_stored:4", 1),  # round 2's first update stored, not acknowledged yet
    ("global_model_write:3", 1),  # round 2's model in a temp file, not renamed nor recorded
    ("round_saved:2", 1),  # between rounds 1 and 2
]


#: Retention on: a resumed job needs only its last round's model.
ARGS = {"num_rounds": NUM_ROUNDS, "wait_after_min": 30.0, "keep_rounds": 2}


def _job(tmp: Path) -> Path:
    return real_job(tmp, "fedavg", ARGS, SCRIPT_ARGS)


def _final_model(federation: Federation, job_id: str) -> dict[str, np.ndarray]:
    rounds = federation.api.rounds(job_id)
    assert [r.round for r in rounds] == list(range(NUM_ROUNDS + 1)), rounds
    path = federation.server_ws() / "artifacts" / rounds[-1].model_path
    return load_file(str(path))


def _ended(record: JobRecord) -> bool:
    return record.status in JOB_TERMINAL


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The global model of the same job run without any fault."""
    tmp = tmp_path_factory.mktemp("reference")
    with Federation(tmp, 2) as federation:
        federation.start(timeout=120)
        job_id = federation.submit(_job(tmp / "job"))
        record = federation.wait(job_id, timeout=180)
        assert record.status == JobStatus.FINISHED_OK, record
        return _final_model(federation, job_id)


@pytest.mark.parametrize(("point", "last_round"), KILL_POINTS)
def test_server_killed_at_a_fault_point_resumes_the_job(
    point: str,
    last_round: int | None,
    reference: dict[str, np.ndarray],
    tmp_path: Path,
    cohort_home: Path,
) -> None:
    with Federation(tmp_path, 2) as federation:
        federation.start_server(env={FAULT_ENV: point})
        for site in federation.sites:
            federation.start_site(site)
        wait_until_connected(federation.layout, federation.sites, 120)
        job_id = federation.submit(_job(tmp_path / "job"))

        server = federation.procs["server"]
        assert server.wait(120) == -signal.SIGKILL, federation.log_text("server")
        assert f"fault point {point.split(':')[0]}" in federation.log_text("server") + (
            _server_job_log(federation, job_id)
        )
        wait_no_job_processes_on_server(federation, job_id)

        federation.start_server()  # the same workspace and store, no fault armed
        wait_until_connected(federation.layout, federation.sites, 120)
        record = federation.wait_for(job_id, _ended, timeout=180)
        assert record.status == JobStatus.FINISHED_OK, record
        assert record.meta["restarts"] == 1, record.meta
        assert record.meta["resumed_from_round"] == last_round, record.meta
        assert "resumed after a server restart" in _server_job_log(federation, job_id)

        # The same model as the uninterrupted run, to the bit.
        final = _final_model(federation, job_id)
        assert final.keys() == reference.keys()
        for name in final:
            assert final[name].dtype == reference[name].dtype
            assert final[name].tobytes() == reference[name].tobytes(), name

        # Each site's update counted once per round: one stored update per (round, site).
        rounds = federation.api.rounds(job_id)
        assert [r.num_updates for r in rounds[1:]] == [2] * NUM_ROUNDS, rounds
        # keep_rounds 2: the last two rounds' models and the best one are on disk.
        kept = {
            r.round
            for r in rounds
            if (federation.server_ws() / "artifacts" / r.model_path).exists()
        }
        assert kept == {NUM_ROUNDS - 1, NUM_ROUNDS, best_round(rounds, "accuracy")}, rounds
        store = open_store(None, federation.server_ws())
        try:
            tasks = {t.task_id: t for t in store.list_tasks(job_id)}
            counted = Counter(
                (tasks[u.task_id].round, tasks[u.task_id].site)
                for u in store.list_updates(job_id)
                if tasks[u.task_id].name == "train"
            )
        finally:
            store.close()
        expected = {(r, s): 1 for r in range(1, NUM_ROUNDS + 1) for s in federation.sites}
        assert dict(counted) == expected, counted
        wait_no_job_processes(job_id)


def _server_job_log(federation: Federation, job_id: str) -> str:
    path = federation.server_ws() / "artifacts" / server_log_key(job_id)
    return path.read_text(errors="replace") if path.exists() else ""


def wait_no_job_processes_on_server(federation: Federation, job_id: str) -> None:
    """The killed server's job process is gone (it dies with its API process)."""
    deadline = time.monotonic() + 20
    while [p for p in job_pids(job_id) if "cohort.server.job_process" in cmdline(p)]:
        assert time.monotonic() < deadline, "the server job process outlived its server"
        time.sleep(0.1)


def test_a_workflow_that_cannot_resume_is_abandoned_with_the_reason(
    tmp_path: Path, cohort_home: Path
) -> None:
    # FedAdam's server optimizer moments are not saved per round: after a crash the job is
    # settled ABANDONED, saying why, and every process of it stops.
    with Federation(tmp_path, 2) as federation:
        federation.start_server(env={FAULT_ENV: "round_saved:2"})
        for site in federation.sites:
            federation.start_site(site)
        wait_until_connected(federation.layout, federation.sites, 120)
        job = real_job(tmp_path / "job", "fedadam", {"num_rounds": NUM_ROUNDS}, SCRIPT_ARGS)
        job_id = federation.submit(job)
        assert federation.procs["server"].wait(120) == -signal.SIGKILL

        federation.start_server()
        wait_until_connected(federation.layout, federation.sites, 120)
        record = federation.api.get_job(job_id)  # settled before anyone was answered
        assert record.status == JobStatus.ABANDONED, record
        assert "cannot resume" in record.status_reason, record.status_reason
        assert "fedadam" in record.status_reason, record.status_reason
        assert "restarts" not in record.meta
        assert [r.round for r in federation.api.rounds(job_id)] == [0, 1]
        wait_no_job_processes(job_id)


def test_a_graceful_server_restart_resumes_the_running_job(
    reference: dict[str, np.ndarray], tmp_path: Path, cohort_home: Path
) -> None:
    from cohort.admin import TargetType, new_secure_session

    release = tmp_path / "release"
    with Federation(tmp_path, 2) as federation:
        # The job process holds after round 1 is recorded until released: the restart below
        # certainly lands mid-job (a 3-round job can finish before a restart arrives). The
        # resumed job process holds at its first round too, so release after the restart.
        federation.start_server(env={HOLD_ENV: "round_saved:2", RELEASE_ENV: str(release)})
        for site in federation.sites:
            federation.start_site(site)
        wait_until_connected(federation.layout, federation.sites, 120)
        job_id = federation.submit(_job(tmp_path / "job"))
        federation.wait_for(job_id, lambda r: len(federation.api.rounds(job_id)) >= 2, timeout=120)
        sess = new_secure_session(
            "admin@cohort.local", str(federation.layout.admin_kit), timeout=10
        )
        try:
            reply = sess.restart(TargetType.SERVER, wait=True, timeout=120)
        finally:
            sess.close()
        assert reply == {"status": "ok", "server_status": "restarted"}, reply
        release.touch()
        record = federation.wait_for(job_id, _ended, timeout=180)
        assert record.status == JobStatus.FINISHED_OK, record
        assert record.meta["restarts"] == 1, record.meta
        assert record.meta["resumed_from_round"] == 1, record.meta
        final = _final_model(federation, job_id)
        assert all(final[k].tobytes() == reference[k].tobytes() for k in reference)
