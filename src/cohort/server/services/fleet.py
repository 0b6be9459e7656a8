"""Sites as the server sees them: heartbeats, task hand-out, results, exits, logs."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotAuthorized
from cohort.faults import fault_point
from cohort.schemas.fleet import HeartbeatReply, HeartbeatRequest, SiteFailureReport, UpdateReceipt
from cohort.schemas.job import LogFileName
from cohort.schemas.records import JobRecord, TaskRecord
from cohort.server.notify import JOBS_KEY, job_key, site_tasks_key, tasks_key
from cohort.server.services.events import publish_client_failed, publish_client_update
from cohort.server.services.jobs import job_dir
from cohort.server.services.logstore import site_log_key, stream_plan
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus, TaskStatus
from cohort.store import JobFilter
from cohort.tls import Identity
from cohort.wire.payload import read_payload_file
from cohort.wire.tensors import read_file_header
from cohort.workflows.validation import describe_mismatch, tensor_shapes

__all__ = ["FleetService", "failed_sites"]

_ACTIVE = [JobStatus.DISPATCHED, JobStatus.RUNNING]


def failed_sites(job: JobRecord) -> dict[str, str]:
    """Sites whose job process failed for good (they get no more tasks of that job), each
    with the first line of its error."""
    return {
        e["site"]: str(e.get("error", "")).split("\n", 1)[0]
        for e in job.site_errors
        if e.get("kind") == "failed"
    }


class FleetService:
    """Site-facing operations; every one is checked against the calling site's identity."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def heartbeat(self, site: Identity, req: HeartbeatRequest) -> HeartbeatReply:
        """Record the site as alive and tell it which jobs to start and which to stop."""
        store, now = self.state.store, self.state.clock()
        before = None
        try:
            before = store.get_site(site.name)
        except Exception:
            before = None
        record = store.touch_site(site.name, org=site.org, now=now)
        if not record.enabled:
            raise NotAuthorized(
                f"site {site.name} is disabled",
                hint="An admin can enable it again (Session.enable_client).",
                details={"site": site.name},
            )
        if req.capacity is not None:
            self.state.site_capacity[site.name] = req.capacity
        if before is None or not self.state.is_connected(before, now):
            self.state.notifier.notify(JOBS_KEY)  # the scheduler may now have enough sites
        start: list[str] = []
        running = set(req.running_jobs)
        active = {j.job_id: j for j in store.list_jobs(JobFilter(statuses=_ACTIVE))}
        for job in active.values():
            mine = site.name in job.sites and site.name not in failed_sites(job)
            if mine and job.job_id not in running:
                start.append(job.job_id)
        abort = [j for j in running if j not in active or site.name in failed_sites(active[j])]
        # Deleted jobs are told once; removing a folder that is already gone is harmless.
        delete = sorted(self.state.pending_deletes.pop(site.name, set()))
        log_config = {
            job_id: setting
            for job_id in sorted(running | set(start))
            if (setting := self.state.log_configs.get(job_id, {}).get(site.name)) is not None
        }
        return HeartbeatReply(
            start_jobs=start,
            abort_jobs=abort,
            delete_jobs=delete,
            log_config=log_config,
            commands=self.state.site_commands.pop(site.name, []),
            shutdown=self.state.shutdown_sites,
            heartbeat_interval=self.state.config.heartbeat_interval,
        )

    def job_for_site(self, site: Identity, job_id: str) -> JobRecord:
        """Return the job if the site takes part in it; NOT_AUTHORIZED otherwise."""
        job = self.state.store.get_job(job_id)
        if site.name not in job.sites:
            raise NotAuthorized(
                f"site {site.name} is not part of job {job_id}", details={"job_id": job_id}
            )
        return job

    async def next_task(self, site: Identity, job_id: str, wait: float) -> TaskRecord | None:
        """Long-poll for the site's next open task of a job.

        Returns None when nothing arrived within ``wait``; raises JOB_NOT_RUNNING once the
        job has ended, which tells the site's script to stop.
        """
        notifier, store = self.state.notifier, self.state.store
        key = site_tasks_key(job_id, site.name)
        deadline = time.monotonic() + min(wait, self.state.config.long_poll_max)
        while True:
            version = notifier.version(key)
            job = self.job_for_site(site, job_id)
            if job.status in JOB_TERMINAL or site.name in failed_sites(job):
                raise Conflict(f"job {job_id} is {job.status}", code=ErrorCode.JOB_NOT_RUNNING)
            for task in store.open_tasks_for(job_id, site.name):
                # FETCHED wakes nobody: the workflow waits only for results and failures.
                fetched = store.set_task_status(task.task_id, TaskStatus.FETCHED)
                if fetched is not None:
                    return fetched
            remaining = deadline - time.monotonic()
            if remaining <= 0 or notifier.stopping:
                return None
            await notifier.wait(key, version, remaining, long_poll=True)

    def task_model_path(self, task: TaskRecord) -> str | None:
        """Local path of the model a task carries (None for tasks without one)."""
        return str(self.state.artifacts.path(task.model_path)) if task.model_path else None

    def task_of(self, site: Identity, job_id: str, task_id: str) -> TaskRecord:
        """The site's task of a job; NOT_AUTHORIZED for another site's (or job's) task."""
        task = self.state.store.get_task(task_id)
        if task.site != site.name or task.job_id != job_id:
            raise NotAuthorized(f"task {task_id} is not a task of {site.name} in job {job_id}")
        return task

    @staticmethod
    def check_active(task: TaskRecord) -> None:
        """TASK_NOT_ACTIVE unless the task still waits for its result."""
        if task.status not in (TaskStatus.PENDING, TaskStatus.FETCHED):
            raise Conflict(
                f"task {task.task_id} is {task.status}; its result is no longer wanted",
                code=ErrorCode.TASK_NOT_ACTIVE,
            )

    async def accept_update(
        self,
        site: Identity,
        job_id: str,
        task_id: str,
        body: AsyncIterator[bytes],
        expected_sha256: str | None = None,
    ) -> UpdateReceipt:
        """Stream an uploaded result to disk, check it, store it, then acknowledge it.

        A retried upload of the same bytes is acknowledged again and counted once; with
        ``expected_sha256`` (the site's own digest) a payload damaged on the way is refused
        with CHECKSUM_MISMATCH before anything looks at it.
        """
        arts = self.state.artifacts
        self.job_for_site(site, job_id)
        task = self.task_of(site, job_id, task_id)
        tmp_key = f"{job_dir(job_id)}/updates/incoming-{uuid.uuid4().hex}"
        sha, _ = await arts.write_async_stream(tmp_key, body, self.state.config.max_update_bytes)
        tmp = arts.path(tmp_key)
        try:
            if expected_sha256 is not None and sha != expected_sha256:
                raise InvalidRequest(
                    f"upload of task {task_id} does not match its sha256",
                    code=ErrorCode.CHECKSUM_MISMATCH,
                    hint="Upload the result again.",
                )
            return self.accept_file(site, task, tmp, sha)
        finally:
            tmp.unlink(missing_ok=True)

    def accept_file(self, site: Identity, task: TaskRecord, tmp: Path, sha: str) -> UpdateReceipt:
        """Check a complete, verified upload (``tmp``, whose sha256 is ``sha``) and store it
        as the task's result; ``tmp`` is moved into place or left for the caller to remove."""
        store, arts = self.state.store, self.state.artifacts
        job_id, task_id = task.job_id, task.task_id
        if task.status == TaskStatus.DONE:
            return self._duplicate(task, sha)
        self.check_active(task)
        header = read_payload_file(tmp)
        if header.kind != "update":
            raise InvalidRequest("payload is not an update", code=ErrorCode.PAYLOAD_INVALID)
        if task.name == "train":
            self._check_shapes(task, tmp)
        key = f"{job_dir(job_id)}/updates/{task.round}-{task.name}-{site.name}-{task_id}"
        os.replace(tmp, arts.path(key))
        _, created = store.add_update(
            task_id=task_id,
            path=key,
            sha256=sha,
            num_samples=header.num_samples if header.num_samples is not None else 1,
            metrics=header.metrics,
            now=self.state.clock(),
        )
        if created:
            fault_point("update_stored")  # stored, not yet acknowledged: the site retries
        self.state.notifier.notify(tasks_key(job_id))
        publish_client_update(self.state, task, header.metrics, duplicate=not created)
        return UpdateReceipt(task_id=task_id, accepted=True, duplicate=not created, sha256=sha)

    def duplicate_or_conflict(self, task: TaskRecord, sha: str) -> UpdateReceipt:
        """The receipt of a result sent again after it was stored; TASK_NOT_ACTIVE when the
        task has no result or a different one."""
        if task.status != TaskStatus.DONE:
            raise Conflict(
                f"task {task.task_id} has no upload in progress",
                code=ErrorCode.CONFLICT,
                details={"received": 0},
            )
        return self._duplicate(task, sha)

    def _duplicate(self, task: TaskRecord, sha: str) -> UpdateReceipt:
        stored = next(
            (
                u
                for u in self.state.store.list_updates(task.job_id, task.round)
                if u.task_id == task.task_id
            ),
            None,
        )
        if stored is None or stored.sha256 != sha:
            raise Conflict(
                f"task {task.task_id} already has a different result",
                code=ErrorCode.TASK_NOT_ACTIVE,
            )
        return UpdateReceipt(task_id=task.task_id, accepted=True, duplicate=True, sha256=sha)

    def _check_shapes(self, task: TaskRecord, upload: Any) -> None:
        # Compare headers only (names, dtypes, shapes): a mismatched update is refused at the
        # edge instead of failing the aggregation later.
        expected = tensor_shapes(read_file_header(self.state.artifacts.path(task.model_path)))
        got = tensor_shapes(read_file_header(upload))
        if got != expected:
            raise InvalidRequest(
                describe_mismatch(expected, got), code=ErrorCode.MODEL_VALIDATION_FAILED
            )

    def site_exit(self, site: Identity, job_id: str, report: SiteFailureReport) -> None:
        """A job's script ended on a site: its log is now whole; if the job still ran (and the
        server did not stop the script itself), fail that site's part."""
        job = self.job_for_site(site, job_id)
        self.state.exited.setdefault(job_id, set()).add(site.name)
        self.state.notifier.notify(job_key(job_id))
        if job.status in JOB_TERMINAL or report.stopped:
            return
        record_site_error(self.state, job, site.name, report.error, report.traceback_tail, "failed")

    def append_log(self, site: Identity, job_id: str, chunk: bytes, file: LogFileName) -> None:
        """Append streamed log output of a site's job process to ``workspace/<site>/<file>``,
        if the job streams this site's log as that file (CONFLICT otherwise)."""
        job = self.job_for_site(site, job_id)
        plan = stream_plan(self.state, job, site.name)
        if plan.file != file:
            raise Conflict(
                f"job {job_id} does not stream {site.name}'s log as {file}: "
                + (plan.reason or f"it streams {plan.file}"),
                code=ErrorCode.CONFLICT,
            )
        path = self.state.artifacts.path(site_log_key(job_id, site.name, file))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(chunk)

    def add_metrics(self, site: Identity, job_id: str, records: list[dict[str, Any]]) -> None:
        """Append metric records logged by a site's script (``flare.log``)."""
        self.job_for_site(site, job_id)
        path = self.state.artifacts.path(f"{job_dir(job_id)}/metrics/{site.name}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec) + "\n")


def record_site_error(
    state: ServerState, job: JobRecord, site: str, error: str, tail: str, kind: str
) -> None:
    """Put a site's failure in the job's meta and fail its open tasks of that job.

    ``kind`` is "failed" (its script died: no more tasks) or "lost" (heartbeats stopped: it
    may come back and take later rounds).
    """
    store = state.store
    store.update_job(
        job.job_id,
        add_site_error={
            "site": site,
            "error": error,
            "traceback_tail": tail,
            "time": state.clock(),
            "kind": kind,
        },
    )
    for task in store.open_tasks_for(job.job_id, site):
        store.set_task_status(task.task_id, TaskStatus.FAILED)
    state.notifier.notify(tasks_key(job.job_id), job_key(job.job_id))
    publish_client_failed(state, job.job_id, site, kind)
