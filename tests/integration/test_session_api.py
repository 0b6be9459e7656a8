"""The session API (``cohort.admin``) against a real POC: a server and two site agents as
processes over mutual TLS on loopback.

One federation serves the tests that leave it running; the tests that stop or restart the
server get their own. Each test checks a method's return shape, its side effect, and the
exceptions it documents.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cohort.admin import (
    AuthenticationError,
    AuthorizationError,
    CommandError,
    InvalidArgumentError,
    InvalidJobDefinition,
    InvalidTarget,
    JobNotDone,
    JobNotFound,
    JobNotRunning,
    JobTimeout,
    MonitorReturnCode,
    NoConnection,
    NoReply,
    Session,
    SessionClosed,
    SubmitTokenConflict,
    SubmitTokenJobDeleted,
    SystemInfo,
    TargetType,
    new_secure_session,
)
from cohort.provision.ca import CertificateAuthority
from cohort.provision.kit import KitConfig, create_kit
from cohort.provision.poc import prepare_poc
from tests.integration.federation import HELLO_NUMPY, ROOT, Federation, make_job, toy_script

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("session_api")]

ADMIN = "admin@cohort.local"
EXAMPLE = ROOT / "examples" / "admin-api" / "run_job.py"


def until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Server and two sites, shared by the tests that keep them running."""
    tmp = tmp_path_factory.mktemp("session")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        federation = Federation(tmp, 2)
        try:
            federation.start()
            yield federation
        finally:
            federation.stop()


@pytest.fixture
def sess(fed: Federation) -> Iterator[Session]:
    """A session of the POC's project admin."""
    session = new_secure_session(ADMIN, str(fed.layout.admin_kit))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def finished_job(fed: Federation) -> str:
    """A hello-numpy job that finished (FINISHED_OK) on both sites."""
    session = new_secure_session(ADMIN, str(fed.layout.admin_kit))
    try:
        job_id = session.submit_job(str(HELLO_NUMPY))
        assert session.wait_for_job(job_id, timeout=180, poll_interval=1)["status"] == (
            "FINISHED_OK"
        )
        return job_id
    finally:
        session.close()


def slow_job(folder: Path, rounds: int = 30, **kwargs: Any) -> Path:
    """A toy job whose rounds take a second each: it runs long enough to be looked at."""
    return make_job(folder, toy_script("    time.sleep(1)"), num_rounds=rounds, **kwargs)


# -- the spec's example script -----------------------------------------------------------------


def test_a_script_written_against_the_spec_runs(fed: Federation, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(fed.layout.admin_kit), str(HELLO_NUMPY)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "SystemInfo(server_info=ServerInfo(status='started'" in out
    assert "monitor_job returned <MonitorReturnCode.JOB_FINISHED: 0>" in out
    assert "status: FINISHED_OK" in out
    result = Path(out.split("result: ")[1].splitlines()[0])
    assert result.parent == fed.layout.admin_kit / "transfer"
    assert (result / "workspace" / "FL_global_model.safetensors").is_file()
    assert (result / "workspace" / "site-1" / "log.txt").is_file()


def test_system_info_and_clients(sess: Session) -> None:
    info = sess.get_system_info()
    assert isinstance(info, SystemInfo)
    assert info.server_info.status == "started" and info.server_info.start_time > 0
    assert sorted(c.name for c in info.client_info) == ["site-1", "site-2"]
    assert all(c.last_connect_time > 0 for c in info.client_info)
    assert sorted(c.name for c in sess.get_connected_client_list()) == ["site-1", "site-2"]


def test_available_apps_are_the_job_folders_in_transfer(sess: Session, fed: Federation) -> None:
    transfer = fed.layout.admin_kit / "transfer"
    shutil.copytree(HELLO_NUMPY, transfer / "my-app")
    (transfer / "not-a-job").mkdir()
    assert "my-app" in sess.get_available_apps_to_upload()
    assert "not-a-job" not in sess.get_available_apps_to_upload()
    job_id = sess.submit_job(str(transfer / "my-app"))
    sess.abort_job(job_id)


# -- jobs ----------------------------------------------------------------------------------------


def test_job_meta_list_clone_download(
    sess: Session, finished_job: str, fed: Federation, tmp_path: Path
) -> None:
    meta = sess.get_job_meta(finished_job)
    assert meta["job_id"] == finished_job and meta["status"] == "FINISHED_OK"
    assert meta["job_name"] == "hello-numpy" and meta["sites"] == ["site-1", "site-2"]

    summary = sess.list_jobs(id_prefix=finished_job[:8])
    assert [j["job_id"] for j in summary] == [finished_job]
    assert set(summary[0]) == {"job_id", "job_name", "status", "submit_time", "duration"}
    detailed = sess.list_jobs(detailed=True, id_prefix=finished_job[:8])
    assert detailed[0]["meta"]["name"] == "hello-numpy"
    assert sess.list_jobs(id=finished_job[:8])[0]["job_id"] == finished_job  # legacy alias
    assert sess.list_jobs(name_prefix="no-such-name") == []

    clone = sess.clone_job(finished_job)
    assert clone != finished_job
    assert sess.get_job_meta(clone)["job_name"] == "hello-numpy"
    everything = sess.list_jobs()
    assert [j["job_id"] for j in sess.list_jobs(reverse=True)] == [
        j["job_id"] for j in reversed(everything)
    ]
    assert len(sess.list_jobs(limit=1)) == 1 and len(sess.list_jobs(limit=0)) == len(everything)
    sess.abort_job(clone)
    assert sess.get_job_meta(clone)["status"] == "ABORTED"

    path = Path(sess.download_job_result(finished_job, destination=str(tmp_path / "out")))
    assert path == tmp_path / "out" / finished_job
    assert (path / "workspace" / "metrics_summary.json").is_file()

    logs = sess.get_job_logs(finished_job, target="all", tail_lines=1)
    assert set(logs["logs"]) == {"server", "site-1", "site-2"}
    assert all(text.count("\n") <= 1 for text in logs["logs"].values())
    grep = sess.get_job_logs(finished_job, target="site-1", grep_pattern="final model")
    assert (
        list(grep["logs"]) == ["site-1"] and "final model test accuracy" in grep["logs"]["site-1"]
    )

    stats = sess.show_stats(finished_job, TargetType.ALL)
    assert stats["server"]["ServerRunner"]["status"] == "FINISHED_OK"
    assert stats["site-1"]["ClientRunner"]["updates_received"] > 0
    assert set(sess.show_stats(finished_job, "client", ["site-2"])) == {"site-2"}
    assert sess.show_errors(finished_job, "all") == {}
    assert sess.list_job_components(finished_job) == []
    assert sess.get_client_job_status() == []  # nothing runs now


def test_monitor_callbacks_timeouts_abort_and_log_config(
    sess: Session, fed: Federation, tmp_path: Path
) -> None:
    job_id = sess.submit_job(str(slow_job(tmp_path / "slow")))
    seen: list[str] = []

    def stop_once_running(
        session: Session, jid: str, meta: dict[str, Any], *args: Any, **kwargs: Any
    ) -> bool:
        assert session is sess and jid == job_id and args == ("a",) and kwargs == {"k": 1}
        seen.append(meta["status"])
        return meta["status"] != "RUNNING"

    rc = sess.monitor_job(job_id, 120, 0.5, stop_once_running, "a", k=1)
    assert rc == MonitorReturnCode.ENDED_BY_CB and seen[-1] == "RUNNING"
    rc, meta = sess.monitor_job_and_return_job_meta(job_id, timeout=1, poll_interval=0.5)
    assert rc == MonitorReturnCode.TIMEOUT and meta is not None and meta["status"] == "RUNNING"
    with pytest.raises(JobTimeout):
        sess.wait_for_job(job_id, timeout=1, poll_interval=0.5)
    with pytest.raises(JobNotDone):
        sess.download_job_result(job_id)

    status = until(lambda: sess.get_client_job_status(["site-1"]), what="site-1 job status")
    assert status == [
        {"client_name": "site-1", "job_id": job_id, "app_name": "slow", "status": "RUNNING"}
    ]
    assert [j.job_id for j in sess.get_system_info().job_info] == [job_id]

    sess.configure_job_log(job_id, "DEBUG")
    sess.configure_job_log(job_id, {"version": 1, "root": {"level": "WARNING"}}, "server")
    # A dictConfig's levels and line format reach the running server job process; its
    # handlers are not applied (they would run admin-named code in the job's processes).
    dict_config = {
        "version": 1,
        "formatters": {"plain": {"format": "DICTCFG %(levelname)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {"cohort.workflow": {"level": "ERROR"}},
    }
    sess.configure_job_log(job_id, dict_config, "server")
    server_log = fed.server_ws() / "artifacts" / "jobs" / job_id / "logs" / "server.log"
    until(
        lambda: "DICTCFG INFO log config applied" in server_log.read_text(),
        what="the dictConfig's format in the job's server log",
    )
    for bad in (
        "LOUD",
        {"version": 1, "root": {"level": "LOUD"}},
        {"version": 1, "formatters": {"f": {"format": "%(no_such_field)s"}}},
        {"version": 1, "handlers": {}},  # sets nothing Cohort applies
        str(tmp_path / "missing.json"),
    ):
        with pytest.raises(InvalidArgumentError):
            sess.configure_job_log(job_id, bad)
    with pytest.raises(InvalidTarget):
        sess.configure_job_log(job_id, "INFO", target="site-9")

    sess.abort_job(job_id)
    done = sess.wait_for_job(job_id, timeout=60, poll_interval=0.5)
    assert done["status"] == "ABORTED"
    assert sess.monitor_job(job_id) == MonitorReturnCode.JOB_FINISHED
    with pytest.raises(JobNotRunning):
        sess.configure_job_log(job_id, "INFO")


def test_abort_of_a_job_not_yet_scheduled(sess: Session, tmp_path: Path) -> None:
    # min_clients 3 with two sites: the job waits, SUBMITTED, until aborted.
    job_id = sess.submit_job(str(slow_job(tmp_path / "waiting", min_clients=3)))
    assert sess.get_job_meta(job_id)["status"] == "SUBMITTED"
    sess.abort_job(job_id)
    time.sleep(2)  # the scheduler runs every 0.5 s: an aborted job must never start
    meta = sess.get_job_meta(job_id)
    assert meta["status"] == "ABORTED" and meta["start_time"] is None and meta["sites"] == []


def test_delete_removes_the_job_everywhere(sess: Session, fed: Federation, tmp_path: Path) -> None:
    job_id = sess.submit_job(str(HELLO_NUMPY), submit_token="delete-me")
    sess.wait_for_job(job_id, timeout=180, poll_interval=1)
    site_dirs = [fed.tmp / f"{s}-ws" / "jobs" / job_id for s in ("site-1", "site-2")]
    assert all(d.is_dir() for d in site_dirs)
    reply = sess.delete_job(job_id)
    assert reply["job_id"] == job_id and reply["submit_records_marked_deleted"] == 1
    assert not (fed.server_ws() / "artifacts" / "jobs" / job_id).exists()
    until(lambda: not any(d.exists() for d in site_dirs), what="site workspaces removed")
    with pytest.raises(JobNotFound):
        sess.get_job_meta(job_id)
    with pytest.raises(SubmitTokenJobDeleted) as caught:
        sess.submit_job(str(HELLO_NUMPY), submit_token="delete-me")
    assert caught.value.job_id == job_id and caught.value.state == "job_deleted"
    assert caught.value.deleted_time
    with pytest.raises(SubmitTokenJobDeleted):
        sess.list_jobs(submit_token="delete-me")


# -- submit tokens -------------------------------------------------------------------------------


def test_submit_tokens(sess: Session, tmp_path: Path) -> None:
    job = slow_job(tmp_path / "tokened", min_clients=3)  # never scheduled: cheap to submit
    first = sess.submit_job(str(job), submit_token="tok-1")
    assert sess.submit_job(str(job), submit_token="tok-1") == first
    assert [j["job_id"] for j in sess.list_jobs(submit_token="tok-1")] == [first]
    assert sess.list_jobs(submit_token="unused-token") == []

    # A zip with one wrapper folder is the same content as the folder.
    archive = tmp_path / "tokened.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(job.rglob("*")):
            if path.is_file():
                zf.write(path, f"wrapper/{path.relative_to(job)}")
    assert sess.submit_job(str(archive), submit_token="tok-1") == first

    other = slow_job(tmp_path / "other", min_clients=3)
    with pytest.raises(SubmitTokenConflict) as caught:
        sess.submit_job(str(other), submit_token="tok-1")
    assert caught.value.existing_job_id == first
    with pytest.raises(InvalidArgumentError):
        sess.submit_job(str(job), submit_token="bad token with spaces")
    sess.abort_job(first)


def test_twenty_concurrent_submits_with_one_token_make_one_job(
    fed: Federation, tmp_path: Path
) -> None:
    job = slow_job(tmp_path / "racy", min_clients=3)
    sessions = [new_secure_session(ADMIN, str(fed.layout.admin_kit)) for _ in range(20)]
    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def submit(session: Session) -> None:
        barrier.wait()
        try:
            ids.append(session.submit_job(str(job), submit_token="race-token"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == [] and len(ids) == 20 and len(set(ids)) == 1
        listed = sessions[0].list_jobs(name_prefix="racy")
        assert [j["job_id"] for j in listed] == [ids[0]]
        sessions[0].abort_job(ids[0])
    finally:
        for session in sessions:
            session.close()


# -- errors and components -----------------------------------------------------------------------


def test_components_errors_and_reset(sess: Session, tmp_path: Path) -> None:
    script = toy_script(
        "    if site == 'site-2':\n        raise RuntimeError('site-2 broke on purpose')"
    )
    job_id = sess.submit_job(str(make_job(tmp_path / "broken", script, min_clients=1)))
    sess.wait_for_job(job_id, timeout=180, poll_interval=1)
    assert sess.list_job_components(job_id) == ["ERRORLOG_site-2"]
    folder = Path(sess.download_job_components(job_id))
    text = (folder / "ERRORLOG_site-2").read_text()
    assert "failed" in text and "site-2 broke on purpose" in text
    errors = sess.show_errors(job_id, "client")
    assert list(errors) == ["site-2"] and errors["site-2"]["ClientRunner"]
    assert sess.show_errors(job_id, "client", ["site-1"]) == {}
    sess.reset_errors(job_id)
    assert sess.show_errors(job_id, "all") == {}
    assert sess.list_job_components(job_id) == ["ERRORLOG_site-2"]  # the log itself stays


# -- commands on targets -------------------------------------------------------------------------


def test_file_commands_on_server_and_sites(sess: Session, fed: Federation, tmp_path: Path) -> None:
    site_ws = fed.tmp / "site-1-ws"
    assert sess.get_working_directory("server") == str(fed.server_ws().resolve())
    assert sess.get_working_directory("site-1") == str(site_ws.resolve())
    (site_ws / "notes.txt").write_text("alpha\nbeta\ngamma\ndelta\n")
    assert "notes.txt" in sess.ls_target("site-1").split()
    assert "notes.txt" in sess.ls_target("site-1", "-l")
    assert sess.cat_target("site-1", file="notes.txt") == "alpha\nbeta\ngamma\ndelta\n"
    assert sess.head_target("site-1", "-n 2", "notes.txt") == "alpha\nbeta\n"
    assert sess.tail_target("site-1", "-1", "notes.txt") == "delta\n"
    assert sess.grep_target("site-1", "-n", "ta", "notes.txt") == "2:beta\n4:delta\n"
    assert "cohort.db" in sess.ls_target("server")
    assert "connected" in sess.tail_target_log("site-1", "-n 100")
    assert sess.head_target_log("server") is not None

    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    (site_ws / "link").symlink_to(secret)
    for bad in ("../server-ws/cohort.db", "/etc/passwd", "link", "jobs/../../secret"):
        with pytest.raises(InvalidArgumentError):
            sess.cat_target("site-1", file=bad)
    with pytest.raises(InvalidArgumentError):
        sess.ls_target("server", path="..")
    with pytest.raises(InvalidArgumentError):
        sess.ls_target("site-1", "-R")
    with pytest.raises(InvalidArgumentError):
        sess.grep_target("server", "-r", "x", "log.txt")
    with pytest.raises(InvalidTarget):
        sess.ls_target("site-9")


def test_reports_and_site_log(sess: Session, fed: Federation) -> None:
    versions = sess.report_version(TargetType.ALL)
    assert set(versions) == {"server", "site-1", "site-2"}
    assert len({v["cohort"] for v in versions.values()}) == 1
    resources = sess.report_resources(TargetType.CLIENT, ["site-1"])
    assert list(resources) == ["site-1"] and resources["site-1"]["cpu_count"] >= 1
    assert set(sess.report_resources(TargetType.SERVER)) == {"server"}
    status = sess.check_status(TargetType.ALL)
    assert status["server"]["status"] == "started"
    assert status["site-1"]["status"] == status["site-2"]["status"] == "connected"
    assert sess.configure_site_log("DEBUG", "site-1") is None
    # The route answers with what each process now has in force.
    applied = fed.api.call("POST", "/admin/v1/site-log", json={"setting": "WARNING"})
    assert set(applied) == {"server", "site-1", "site-2"}
    assert all(a["level"] == "WARNING" for a in applied.values())
    sess.configure_site_log("concise")
    config = {"version": 1, "root": {"level": "ERROR"}, "loggers": {"httpx": {"level": "DEBUG"}}}
    applied = fed.api.call("POST", "/admin/v1/site-log", json={"setting": config})
    assert all(a["level"] == "ERROR" for a in applied.values()), applied
    assert sess.configure_site_log({"version": 1, "root": {"level": "WARNING"}}, "site-2") is None
    applied = fed.api.call("POST", "/admin/v1/site-log", json={"setting": "reload"})
    assert all(a["level"] == "INFO" for a in applied.values())
    with pytest.raises(InvalidArgumentError):
        sess.configure_site_log({"version": 1, "loggers": {"x": {"level": "LOUD"}}})
    with pytest.raises(InvalidArgumentError):
        sess.configure_site_log("LOUD", "server")
    with pytest.raises(InvalidArgumentError):
        sess.report_version("everyone")
    with pytest.raises(InvalidTarget):
        sess.check_status("client", ["site-9"])


def test_disable_enable_remove_client_and_no_reply(sess: Session, fed: Federation) -> None:
    def connected() -> set[str]:
        return {c.name for c in sess.get_connected_client_list()}

    reply = sess.disable_client("site-2")
    assert reply["enabled"] is False and reply["client_name"] == "site-2"
    assert "site-2" not in connected()  # a disabled site does not count as connected
    assert sess.check_status("client", ["site-2"])["site-2"]["status"] == "disabled"
    with pytest.raises(NoReply):  # its heartbeats are refused: nothing reaches it
        sess.ls_target("site-2")
    assert sess.get_client_job_status(["site-2"]) is None
    versions = sess.report_version("client", ["site-1", "site-2"])
    assert versions["site-1"]["cohort"] and versions["site-2"]["error"]["code"] == "NO_REPLY"

    assert sess.enable_client("site-2")["enabled"] is True
    until(lambda: "site-2" in connected(), timeout=30, what="site-2 reconnected")

    # remove: the connection is released at once (the route's answer says so) ...
    released = fed.api.call("POST", "/admin/v1/clients/site-1/remove")
    assert released["connected"] is False and released["site"]["enabled"] is True
    assert sess.remove_client("site-1") is None
    # ... and, unlike a disabled site, it connects again with its next heartbeat.
    until(lambda: "site-1" in connected(), timeout=15, what="site-1 back")
    assert sess.check_status("client", ["site-1"])["site-1"]["status"] == "connected"
    with pytest.raises(InvalidTarget):
        sess.disable_client("site-9")


def test_a_site_that_does_not_answer_is_no_reply(sess: Session, fed: Federation) -> None:
    # A stopped agent still counts as connected for site_dead_after (3 s here) but answers
    # nothing: the command times out after the session's command timeout.
    os.killpg(fed.procs["site-2"].pid, signal.SIGSTOP)
    try:
        sess.set_timeout(1.0)
        with pytest.raises(NoReply) as caught:
            sess.ls_target("site-2")
        assert "within 1 s" in str(caught.value)
    finally:
        os.killpg(fed.procs["site-2"].pid, signal.SIGCONT)
        sess.unset_timeout()

    def answers() -> bool:
        try:
            return sess.ls_target("site-2") is not None
        except NoReply:  # not reconnected yet
            return False

    until(answers, what="site-2 answers again")


# -- failures ------------------------------------------------------------------------------------


def test_failures_raise_the_spec_exceptions(
    sess: Session, fed: Federation, finished_job: str, tmp_path: Path
) -> None:
    kit = str(fed.layout.admin_kit)
    with pytest.raises(AuthenticationError):
        new_secure_session("somebody-else", kit)
    foreign = prepare_poc(tmp_path / "foreign", 1, port=fed.layout.port)
    with pytest.raises(AuthenticationError):  # a kit of another project's CA
        new_secure_session(ADMIN, str(foreign.admin_kit), timeout=5)
    with pytest.raises(InvalidArgumentError):
        new_secure_session(ADMIN, str(tmp_path / "no-kit-here"))

    member = create_kit(
        CertificateAuthority.load(fed.layout.ca_dir),
        fed.layout.prod_dir,
        KitConfig(
            kind="admin", name="member@cohort.local", org="cohort", role="member",
            project=fed.layout.project, server_host=fed.layout.host,
            server_port=fed.layout.port,
        ),
    )  # fmt: skip
    with new_secure_session("member@cohort.local", str(member.dir)) as as_member:
        with pytest.raises(AuthorizationError):
            as_member.shutdown(TargetType.SERVER)
        with pytest.raises(AuthorizationError):
            as_member.shutdown_system()
        assert as_member.get_job_meta(finished_job)["status"] == "FINISHED_OK"

    for call in (
        lambda: sess.get_job_meta("no-such-job"),
        lambda: sess.abort_job("no-such-job"),
        lambda: sess.delete_job("no-such-job"),
        lambda: sess.clone_job("no-such-job"),
        lambda: sess.download_job_result("no-such-job"),
        lambda: sess.show_stats("no-such-job", "all"),
        lambda: sess.list_job_components("no-such-job"),
    ):
        with pytest.raises(JobNotFound):
            call()

    bad_args: list[Callable[[], Any]] = [
        lambda: sess.list_jobs(limit=-1),
        lambda: sess.list_jobs(colour="blue"),
        lambda: sess.set_timeout(0),
        lambda: sess.monitor_job(finished_job, poll_interval=0),
        lambda: sess.wait_for_job(finished_job, timeout=-1),
        lambda: sess.show_stats(finished_job, "everyone"),
        lambda: sess.get_job_logs(finished_job, log_file_name="other.txt"),
        lambda: sess.restart(TargetType.CLIENT),
        lambda: sess.register_study("s", sites=["site-1"], site_orgs=["cohort:site-1"]),
    ]
    for call in bad_args:
        with pytest.raises(InvalidArgumentError):
            call()

    with pytest.raises(InvalidJobDefinition):
        sess.submit_job(str(tmp_path / "missing-folder"))
    empty = tmp_path / "empty-job"
    empty.mkdir()
    with pytest.raises(InvalidJobDefinition):
        sess.submit_job(str(empty))
    with pytest.raises(InvalidTarget):
        sess.show_stats(finished_job, "client", ["site-9"])
    # The study registry, through the spec's methods (the POC's sites belong to org "cohort").
    registered = sess.register_study("trial", site_orgs=["cohort:site-1"])
    assert registered["added"] == ["site-1"], registered
    assert "trial" in [s["name"] for s in sess.list_studies()["studies"]]
    assert [s["site"] for s in sess.show_study("trial")["sites"]] == ["site-1"]
    assert "lead@cohort.local" in sess.add_study_user("trial", "lead@cohort.local")["users"]
    removed = sess.remove_study_site("trial", site_orgs=["cohort:site-1"])
    assert removed["removed"] == ["site-1"], removed
    sess.remove_study("trial")
    with pytest.raises(CommandError) as caught:
        sess.show_study("trial")
    assert caught.value.error_code == "STUDY_NOT_FOUND"

    closed = new_secure_session(ADMIN, kit)
    closed.close()
    with pytest.raises(SessionClosed):
        closed.get_system_info()


# -- the server going away -----------------------------------------------------------------------


def test_restart_shutdown_and_no_connection(tmp_path: Path, cohort_home: Path) -> None:
    with Federation(tmp_path, 1) as fed:
        fed.start()
        sess = new_secure_session(ADMIN, str(fed.layout.admin_kit), timeout=5)
        try:
            before = sess.get_system_info().server_info.start_time
            reply = sess.restart(TargetType.SERVER, wait=True, timeout=60)
            assert reply == {"status": "ok", "server_status": "restarted"}
            assert sess.get_system_info().server_info.start_time > before
            until(lambda: sess.get_connected_client_list(), what="site back after restart")

            assert sess.shutdown(TargetType.SERVER, wait=True, timeout=60) == {
                "status": "ok",
                "server_status": "stopped",
            }
            fed.procs["server"].wait(30)
            with pytest.raises(NoConnection):
                sess.get_system_info()
        finally:
            sess.close()
        with pytest.raises(NoConnection):  # no server: a new session gives up at its timeout
            new_secure_session(ADMIN, str(fed.layout.admin_kit), timeout=2)


def test_killed_server_raises_no_connection(tmp_path: Path, cohort_home: Path) -> None:
    with Federation(tmp_path, 1) as fed:
        fed.start()
        sess = new_secure_session(ADMIN, str(fed.layout.admin_kit), timeout=5)
        try:
            job_id = sess.submit_job(str(slow_job(tmp_path / "slow", min_clients=1)))
            fed.kill("server")
            started = time.monotonic()
            with pytest.raises(NoConnection):
                sess.get_job_meta(job_id)
            with pytest.raises(NoConnection):
                sess.monitor_job(job_id, timeout=0, poll_interval=0.5)
            with pytest.raises(NoConnection):
                sess.wait_for_job(job_id, poll_interval=0.5)
            elapsed = time.monotonic() - started
            print(f"NoConnection after {elapsed:.2f} s for three calls")  # shown with -s
        finally:
            sess.close()


def test_a_hung_server_raises_no_connection_instead_of_hanging(
    tmp_path: Path, cohort_home: Path
) -> None:
    with Federation(tmp_path, 1) as fed:
        fed.start()
        sess = new_secure_session(ADMIN, str(fed.layout.admin_kit), timeout=3)
        job_id = sess.submit_job(str(slow_job(tmp_path / "slow", min_clients=1)))
        os.killpg(fed.procs["server"].pid, signal.SIGSTOP)  # accepts nothing, answers nothing
        raised: list[BaseException] = []

        def calls() -> None:
            for call in (
                lambda: sess.get_job_meta(job_id),
                lambda: sess.wait_for_job(job_id, poll_interval=1),
                lambda: sess.monitor_job(job_id, poll_interval=1),
                lambda: sess.ls_target("server"),
            ):
                try:
                    call()
                except BaseException as exc:
                    raised.append(exc)

        worker = threading.Thread(target=calls, daemon=True)
        try:
            worker.start()
            worker.join(120)  # four calls with a 3 s timeout each: far less unless they hang
            assert not worker.is_alive(), "a session call hung on a stopped server"
            assert [type(e) for e in raised] == [NoConnection] * 4, raised
        finally:
            os.killpg(fed.procs["server"].pid, signal.SIGCONT)
            sess.close()


def test_shutdown_system_stops_server_and_sites(tmp_path: Path, cohort_home: Path) -> None:
    with Federation(tmp_path, 2) as fed:
        fed.start()
        sess = new_secure_session(ADMIN, str(fed.layout.admin_kit), timeout=5)
        try:
            assert sess.shutdown_system() is None
            for name in ("server", "site-1", "site-2"):
                fed.procs[name].wait(60)
            assert all(p.poll() is not None for p in fed.procs.values())
        finally:
            sess.close()
