"""Starts one server job process per running job, watches it, and stops it on abort."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from cohort.errors import NotFound
from cohort.proc import kill_group
from cohort.schemas.records import JobRecord
from cohort.server.job_env import RESUME_ENV
from cohort.server.services.jobs import settle_ended_job
from cohort.server.services.logstore import server_log_key
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus

__all__ = ["JobLauncher", "describe_exit"]

log = logging.getLogger("cohort.launcher")


def describe_exit(code: int) -> str:
    """Say how a process ended, naming the signal when it was killed."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


class JobLauncher:
    """Owns the server job processes of this server."""

    def __init__(self, state: ServerState, server_url: str) -> None:
        self.state = state
        self.server_url = server_url
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        #: Set by :meth:`stop_all`: job processes stopped with the server leave their jobs
        #: RUNNING, for the next start to resume (see cohort.server.recovery).
        self._shutting_down = False

    def running(self) -> dict[str, int]:
        """Job id -> pid of the live server job processes."""
        return {job: p.pid for job, p in self._procs.items() if p.returncode is None}

    async def start(self, job: JobRecord, *, resume: bool = False) -> None:
        """Start the job's server process in its own process group (so abort can kill the
        whole tree), with its output going to the job's server log; ``resume`` starts it
        after a server restart, to continue from the last completed round."""
        arts = self.state.artifacts
        log_path = arts.path(server_log_key(job.job_id))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "COHORT_JOB_ID": job.job_id,
            "COHORT_SERVER_URL": self.server_url,
            "COHORT_KIT_DIR": str(self.state.config.kit),
            "COHORT_ARTIFACTS": str(self.state.artifacts_root),
            "PYTHONUNBUFFERED": "1",
            "COHORT_PARENT_PID": str(os.getpid()),
            RESUME_ENV: "1" if resume else "",
        }
        with log_path.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cohort.server.job_process",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._procs[job.job_id] = proc
        watcher = asyncio.create_task(self._watch(job.job_id, proc))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, job_id: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self._procs.pop(job_id, None)
        kill_group(proc.pid, signal.SIGKILL)  # anything the job process left behind
        if self._shutting_down:
            return
        try:
            job = self.state.store.get_job(job_id)
        except NotFound:
            return  # deleted (aborted first) while its process ended
        if job.status in JOB_TERMINAL:
            return
        reason = f"the server job process {describe_exit(code)} before the job finished"
        ended = self.state.store.set_job_status(
            job_id, JobStatus.FINISHED_EXCEPTION, reason=reason, now=self.state.clock()
        )
        if ended is not None:
            log.warning("job %s: %s", job_id, reason)
            settle_ended_job(self.state, ended)

    async def stop(self, job_id: str) -> None:
        """SIGTERM the job's process group, then SIGKILL after the grace period."""
        proc = self._procs.get(job_id)
        if proc is None or proc.returncode is not None:
            return
        kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.state.config.abort_grace)
        except TimeoutError:
            kill_group(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def stop_all(self) -> None:
        """Stop every job process (server shutdown); their jobs resume at the next start."""
        self._shutting_down = True
        await asyncio.gather(*(self.stop(job) for job in list(self._procs)))
