"""Runs one job's script on a site: fetch the app, start it, stream its log, report its end."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

from cohort.httpclient import check_response
from cohort.jobfolder import CLIENT_CONFIG, extract_job_zip
from cohort.logconfig import ENV_LOG_CONFIG_FILE
from cohort.proc import die_with_parent, kill_group
from cohort.provision.kit import Kit
from cohort.schemas.fleet import LOG_STREAM_HEADER, LOG_STREAM_OFF, SITES_HEADER, SUBMITTER_HEADER
from cohort.schemas.job import ClientAppConfig, JobMeta
from cohort.site.policy import check_job

__all__ = ["JobRunner"]

_TAIL_LINES = 40
_LOG_FLUSH_SECONDS = 0.5
log = logging.getLogger("cohort.site.runner")


class JobRunner(threading.Thread):
    """One job on one site, in its own thread; the agent's heartbeat goes on meanwhile."""

    def __init__(self, job_id: str, kit: Kit, http: httpx.Client, workspace: Path) -> None:
        super().__init__(name=f"job-{job_id[:8]}", daemon=True)
        self.job_id = job_id
        self.kit = kit
        self.http = http
        self.dir = workspace / "jobs" / job_id
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self.exit_code: int | None = None
        #: The file this site streams its job log as ("log.txt", "log.json"), or None.
        self.stream_file: str | None = None

    def run(self) -> None:
        """Fetch, launch, supervise, report."""
        try:
            self._run()
        except Exception as exc:
            self._report(f"site could not run the job: {type(exc).__name__}: {exc}", None)

    def _run(self) -> None:
        response = check_response(self.http.get(f"/fleet/v1/jobs/{self.job_id}/app"))
        sites = [s for s in response.headers.get(SITES_HEADER, "").split(",") if s]
        app_root = self.dir / "app"
        if app_root.exists():  # a restarted agent: start from a fresh copy of the job
            shutil.rmtree(app_root)
        self.dir.mkdir(parents=True, exist_ok=True)
        extract_job_zip(response.content, app_root)
        meta = JobMeta.model_validate_json((app_root / "meta.json").read_text())
        app = meta.client_app_for(self.kit.config.name)
        if app is None:
            self._report(f"job deploys no app to site {self.kit.config.name}", None)
            return
        submitter, _, role = ([*response.headers.get(SUBMITTER_HEADER, "").split(","), "", ""])[:3]
        refusal = check_job(self.kit.local_dir, app_root / app, submitter, role)
        if refusal is not None:
            log.warning("job %s refused by this site's policy: %s", self.job_id, refusal)
            self._report(f"refused by the site's policy: {refusal}", None)
            return
        config = ClientAppConfig.model_validate_json((app_root / app / CLIENT_CONFIG).read_text())
        env = {
            **os.environ,
            **config.env,
            "COHORT_JOB_ID": self.job_id,
            "COHORT_SITE_NAME": self.kit.config.name,
            "COHORT_KIT_DIR": str(self.kit.dir),
            "COHORT_SERVER_URL": str(self.http.base_url).rstrip("/"),
            "COHORT_NUM_SITES": str(len(sites)),
            "PYTHONUNBUFFERED": "1",
            # Partial model transfers (cohort.client.chunked) stay in the job's folder.
            "COHORT_TRANSFER_DIR": str(self.dir / "transfer"),
            ENV_LOG_CONFIG_FILE: str(self.dir / "log_config.json"),
        }
        # The server decides (the job's JobLogStreamer/JobLogReceiver and its own default).
        stream = response.headers.get(LOG_STREAM_HEADER, LOG_STREAM_OFF)
        self.stream_file = None if stream == LOG_STREAM_OFF else stream
        if self.stopping.is_set():
            return
        self.proc = subprocess.Popen(
            # script_main runs the script as __main__ and applies `job log-config` requests.
            [sys.executable, "-m", "cohort.site.script_main", config.script, *config.args],
            cwd=app_root / app,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: abort kills the whole tree
            # The script gets SIGKILL if the agent dies: a killed agent leaves no orphan
            # training on stale state.
            preexec_fn=die_with_parent,
        )
        (self.dir / "pid").write_text(str(self.proc.pid))
        self._pump_log(self.proc)
        code = self.proc.wait()
        kill_group(self.proc.pid, signal.SIGKILL)  # anything the script left behind
        self.exit_code = code
        (self.dir / "pid").unlink(missing_ok=True)
        if self.stopping.is_set():
            # Stopped by the server (the job ended or was aborted): no failure to report, but
            # the server learns that this site's log is now whole.
            self._report("stopped by the server", code, stopped=True)
            return
        # Reported after the log is shipped: the server then knows this site's log is whole.
        if code != 0:
            last = next((line for line in reversed(self.tail) if line.strip()), "")
            self._report(f"script exited with code {code}: {last.strip()}", code)
        else:
            # A clean exit while the job still runs means the site stopped taking part; the
            # server ignores this report when the job is already over.
            self._report("script exited before the job finished", 0)

    def _pump_log(self, proc: subprocess.Popen[bytes]) -> None:
        """Copy the script's output to ``log.txt`` (and ``log.json`` records when the job
        streams that) and ship it to the server every half second."""
        assert proc.stdout is not None
        as_json = self.stream_file == "log.json"
        buffer: list[bytes] = []
        last_flush = time.monotonic()
        with contextlib.ExitStack() as files:
            text = files.enter_context((self.dir / "log.txt").open("ab"))
            records = files.enter_context((self.dir / "log.json").open("ab")) if as_json else None
            for line in iter(proc.stdout.readline, b""):
                text.write(line)
                text.flush()
                decoded = line.decode("utf-8", "replace")
                self.tail.append(decoded)
                if records is not None:
                    line = self._json_record(decoded)
                    records.write(line)
                    records.flush()
                buffer.append(line)
                if time.monotonic() - last_flush >= _LOG_FLUSH_SECONDS:
                    self._ship(b"".join(buffer))
                    buffer.clear()
                    last_flush = time.monotonic()
        if buffer:
            self._ship(b"".join(buffer))

    def _json_record(self, line: str) -> bytes:
        """One output line as a structured log record (a line of ``log.json``)."""
        record = {
            "time": datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "site": self.kit.config.name,
            "job_id": self.job_id,
            "message": line.rstrip("\r\n"),
        }
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")

    def _ship(self, chunk: bytes) -> None:
        # Log streaming is best effort: losing a chunk must never stop the job. A job that
        # does not stream this site's log keeps it on the site only.
        if self.stream_file is None:
            return
        for start in range(0, len(chunk), 512 * 1024):
            try:
                self.http.post(
                    f"/fleet/v1/jobs/{self.job_id}/log",
                    params={"file": self.stream_file},
                    content=chunk[start : start + 512 * 1024],
                )
            except httpx.HTTPError:
                return

    def _report(self, error: str, code: int | None, *, stopped: bool = False) -> None:
        body = {
            "error": error[:4000],
            "traceback_tail": "".join(self.tail)[-20000:],
            "exit_code": code,
            "stopped": stopped,
        }
        with contextlib.suppress(httpx.HTTPError):
            self.http.post(f"/fleet/v1/jobs/{self.job_id}/exit", json=body)

    def stop(self, grace: float = 3.0) -> None:
        """Kill the job's whole process group: SIGTERM, then SIGKILL after ``grace``."""
        self.stopping.set()
        proc = self.proc
        if proc is None or self.exit_code is not None:
            return  # not started, or ended and its group already killed by run()
        if proc.poll() is None:
            kill_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        # SIGKILL what is left of the group: the script after the grace, and processes it
        # started that outlive it (even when it ended by itself as the job ended under it).
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()

    @property
    def finished(self) -> bool:
        """True once the thread has nothing more to do."""
        return not self.is_alive()
