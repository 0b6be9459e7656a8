"""The site agent's main loop: heartbeat, start and stop job runners, reconnect on failure."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx

from cohort.errors import CohortError, NotAuthorized
from cohort.hostinfo import capacity
from cohort.httpclient import check_response, kit_client
from cohort.logconfig import add_workspace_log
from cohort.proc import kill_group
from cohort.provision.kit import Kit, load_kit
from cohort.schemas.fleet import (
    HeartbeatReply,
    HeartbeatRequest,
    LogSetting,
    SiteCapacity,
    SiteCommand,
)
from cohort.site.commands import execute
from cohort.site.runner import JobRunner

__all__ = ["SiteAgent"]

log = logging.getLogger("cohort.site")
_FIRST_RETRY = 0.2
_MAX_RETRY = 10.0
#: For this long after losing the server, retry at least once per heartbeat interval: a
#: server that is starting or restarting is usually back within it, and a resumed job waits
#: for its sites' first heartbeats (no more calls than while connected).
_RETRY_AT_HEARTBEAT_FOR = 60.0
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class SiteAgent:
    """Runs on a site: dials out to the server and runs the jobs the server assigns it."""

    def __init__(self, kit_dir: Path, workspace: Path, heartbeat_interval: float = 1.0) -> None:
        self.kit: Kit = load_kit(kit_dir)
        self.workspace = workspace
        self.interval = heartbeat_interval
        self.stop_event = threading.Event()
        self.runners: dict[str, JobRunner] = {}
        self.log_settings: dict[str, int] = {}  # job id -> version of the setting written
        self.http = kit_client(self.kit, timeout=30.0)
        self.capacity = SiteCapacity.model_validate(capacity())  # for resource policies

    def _kill_leftovers(self) -> None:
        # A previous agent killed hard may have left job processes (where the parent-death
        # signal is unavailable): their pid files say which.
        jobs = self.workspace / "jobs"
        for pid_file in jobs.glob("*/pid") if jobs.is_dir() else []:
            with contextlib.suppress(ValueError):
                kill_group(int(pid_file.read_text()), signal.SIGKILL)
            pid_file.unlink(missing_ok=True)

    def run(self) -> None:
        """Serve until :meth:`stop` or SIGTERM; then stop every job process."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        file_log = add_workspace_log(self.workspace)
        self._kill_leftovers()
        threading.Thread(target=self._command_loop, name="commands", daemon=True).start()
        log.info("site %s: connecting to %s", self.kit.config.name, self.kit.server_url)
        # Retry fast at first (the server may be starting at the same moment), then at the
        # heartbeat interval for a minute (a restarting server), then back off.
        backoff = _FIRST_RETRY
        connected = False
        lost_at = time.monotonic()
        refused = ""
        while not self.stop_event.is_set():
            was_connected = connected
            try:
                reply = self.heartbeat()
                if not connected:
                    log.info("site %s: connected", self.kit.config.name)
                refused = ""
                connected, backoff = True, _FIRST_RETRY
                self.interval = reply.heartbeat_interval
                self._apply(reply)
            except NotAuthorized as exc:
                # Refused by the server (disabled, wrong role): say so once, keep retrying.
                if refused != exc.message:
                    log.error("site %s: the server refuses this site: %s %s",
                              self.kit.config.name, exc.message, exc.hint)  # fmt: skip
                    refused = exc.message
                connected = False
            except (httpx.HTTPError, CohortError) as exc:
                if connected:
                    log.warning(
                        "site %s: lost the server (%s); retrying", self.kit.config.name, exc
                    )
                connected = False
            if was_connected and not connected:
                lost_at = time.monotonic()
            self.stop_event.wait(self.interval if connected else backoff)
            if not connected:
                backoff = min(backoff * 2, self._retry_cap(time.monotonic() - lost_at))
        for runner in list(self.runners.values()):
            runner.stop()
        self.http.close()
        logging.getLogger().removeHandler(file_log)
        file_log.close()

    def _retry_cap(self, lost_for: float) -> float:
        """The longest pause between retries after ``lost_for`` seconds without the server:
        the heartbeat interval at first, then up to _MAX_RETRY."""
        if lost_for < _RETRY_AT_HEARTBEAT_FOR:
            return min(max(self.interval, _FIRST_RETRY), _MAX_RETRY)
        return _MAX_RETRY

    def heartbeat(self) -> HeartbeatReply:
        """Tell the server we are alive and which jobs run here."""
        self.runners = {j: r for j, r in self.runners.items() if not r.finished}
        body = HeartbeatRequest(running_jobs=sorted(self.runners), capacity=self.capacity)
        response = check_response(self.http.post("/fleet/v1/heartbeat", json=body.model_dump()))
        return HeartbeatReply.model_validate(response.json())

    def _apply(self, reply: HeartbeatReply) -> None:
        if reply.shutdown:  # shutdown_system: leave the loop, stopping every job
            log.info("site %s: the server asked the system to shut down", self.kit.config.name)
            self.stop_event.set()
        for command in reply.commands:
            threading.Thread(target=self._answer, args=(command,), daemon=True).start()
        for job_id in reply.delete_jobs:
            self._delete(job_id)
        for job_id, setting in reply.log_config.items():
            self._write_log_config(job_id, setting)
        for job_id in reply.abort_jobs:
            runner = self.runners.pop(job_id, None)
            if runner is not None:
                log.info("site %s: stopping job %s", self.kit.config.name, job_id)
                threading.Thread(target=runner.stop, daemon=True).start()
        for job_id in reply.start_jobs:
            if job_id not in self.runners:
                log.info("site %s: starting job %s", self.kit.config.name, job_id)
                runner = JobRunner(job_id, self.kit, self.http, self.workspace)
                self.runners[job_id] = runner
                runner.start()

    def _command_loop(self) -> None:
        """Long-poll for admin commands, so they run at once rather than with the next
        heartbeat reply (which also carries them, e.g. while this poll reconnects)."""
        while not self.stop_event.is_set():
            try:
                response = check_response(
                    self.http.get("/fleet/v1/commands", params={"wait": 20.0}, timeout=40.0)
                )
                commands = [SiteCommand.model_validate(c) for c in response.json()]
            except (httpx.HTTPError, CohortError, RuntimeError, ValueError):
                # RuntimeError: the client was closed as the agent stops; ValueError: a
                # malformed answer (a server of another version): retry after a pause.
                self.stop_event.wait(self.interval)
                continue
            for command in commands:
                threading.Thread(target=self._answer, args=(command,), daemon=True).start()

    def _answer(self, command: SiteCommand) -> None:
        """Run an admin command relayed by the server and post its result back."""
        result = execute(self.workspace, command.name, command.args)
        try:
            self.http.post(f"/fleet/v1/commands/{command.command_id}", json=result.model_dump())
        except httpx.HTTPError as exc:  # the admin then gets NO_REPLY: nothing else to do
            log.warning(
                "site %s: could not answer command %s: %s", self.kit.config.name, command.name, exc
            )

    def _job_dir(self, job_id: str) -> Path | None:
        if not _JOB_ID.fullmatch(job_id):  # never let a name from the wire leave jobs/
            log.warning("site %s: ignoring job id %r", self.kit.config.name, job_id)
            return None
        return self.workspace / "jobs" / job_id

    def _delete(self, job_id: str) -> None:
        """The job was deleted on the server: stop it if it runs, remove its workspace."""
        folder = self._job_dir(job_id)
        if folder is None:
            return
        runner = self.runners.pop(job_id, None)
        self.log_settings.pop(job_id, None)

        def remove() -> None:
            if runner is not None:
                runner.stop()
                runner.join(30)
            shutil.rmtree(folder, ignore_errors=True)
            log.info(
                "site %s: removed the workspace of deleted job %s", self.kit.config.name, job_id
            )

        threading.Thread(target=remove, daemon=True).start()

    def _write_log_config(self, job_id: str, setting: LogSetting) -> None:
        """Hand a job's log setting to its script (it watches the file)."""
        folder = self._job_dir(job_id)
        if folder is None or self.log_settings.get(job_id) == setting.version:
            return
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "log_config.json.tmp"
        tmp.write_text(setting.model_dump_json())
        os.replace(tmp, folder / "log_config.json")
        self.log_settings[job_id] = setting.version

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self.stop_event.set()
