"""What the server job process asks of the API process: tasks, results, rounds, the end."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cohort.errors import Conflict, ErrorCode, NotFound
from cohort.schemas.records import JobRecord, RoundRecord, TaskRecord, UpdateRecord
from cohort.server.notify import job_key, site_tasks_key, tasks_key
from cohort.server.services.events import publish_training_progress
from cohort.server.services.fleet import failed_sites
from cohort.server.services.jobs import settle_ended_job
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus, TaskStatus
from cohort.workflows.validation import REJECTED, rejection_record

__all__ = ["TaskBatch", "TasksState", "WorkService"]


class TaskBatch(BaseModel):
    """Tasks created for one step of a workflow, and the sites that could not get one."""

    tasks: list[TaskRecord]
    skipped: dict[str, str]


class TasksState(BaseModel):
    """The state of a round's tasks, as the workflow long-polls for it."""

    version: int
    job_status: JobStatus
    tasks: list[TaskRecord]
    updates: list[UpdateRecord]
    failures: dict[str, str]


class WorkService:
    """Internal operations for a job's own server process."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def mark_running(self, job_id: str, resume: bool = False) -> JobRecord:
        """DISPATCHED -> RUNNING; JOB_NOT_RUNNING if the job ended meanwhile (e.g. aborted).

        With ``resume`` (a job process restarted after a server restart) a job already
        RUNNING stays so."""
        changed = self.state.store.set_job_status(
            job_id, JobStatus.RUNNING, reason="running", now=self.state.clock()
        )
        if changed is None:
            job = self.state.store.get_job(job_id)
            if resume and job.status == JobStatus.RUNNING:
                return job
            raise Conflict(f"job {job_id} is {job.status}", code=ErrorCode.JOB_NOT_RUNNING)
        self.state.notifier.notify(job_key(job_id))
        return changed

    def create_tasks(
        self,
        job_id: str,
        *,
        round: int,
        name: str,
        sites: list[str],
        model_key: str,
        timeout: float,
        meta: dict[str, Any],
        reuse: bool = False,
    ) -> TaskBatch:
        """Create tasks for the sites that can take them; say why the others cannot.

        With ``reuse`` (a job resumed after a server restart) a site's task of the same
        round and name that is still open or DONE is handed back instead of a new one: an
        update already stored for it is used as it is (counted once), and a site still
        working on it can deliver its result. Only failed, timed-out or cancelled tasks are
        issued again."""
        job = self._running(job_id)
        kept = self._reusable(job_id, round, name) if reuse else {}
        failed = failed_sites(job)
        connected = {s.name for s in self.state.connected_sites()}
        skipped: dict[str, str] = {}
        targets = []
        for site in sites:
            if site in kept:
                continue
            if site in failed:
                # The cause travels on: when every site failed before its first task, this
                # is the only place the job's reason can name it.
                skipped[site] = f"its job process failed earlier ({failed[site]})"
            elif site not in connected:
                skipped[site] = "not connected"
            else:
                targets.append(site)
        now = self.state.clock()
        tasks = self.state.store.create_tasks(
            job_id=job_id,
            round=round,
            name=name,
            sites=targets,
            model_path=model_key,
            deadline=now + timeout,
            now=now,
            meta=meta,
        )
        self.state.notifier.notify(*(site_tasks_key(job_id, s) for s in targets))
        if kept:  # in the order of ``sites``, which fixes the order results are folded in
            fresh = {t.site: t for t in tasks}
            tasks = [kept.get(s) or fresh[s] for s in sites if s in kept or s in fresh]
        return TaskBatch(tasks=tasks, skipped=skipped)

    def _reusable(self, job_id: str, round: int, name: str) -> dict[str, TaskRecord]:
        """Each site's latest task of this round and name, if it is open or DONE."""
        latest: dict[str, TaskRecord] = {}
        for task in self.state.store.list_tasks(job_id, round):
            if task.name == name:
                latest[task.site] = task  # oldest first: the last one wins
        usable = (TaskStatus.PENDING, TaskStatus.FETCHED, TaskStatus.DONE)
        return {site: t for site, t in latest.items() if t.status in usable}

    async def tasks_state(
        self, job_id: str, task_ids: list[str], since: int, wait: float
    ) -> TasksState:
        """Return the given tasks once anything changed after version ``since`` (or at
        ``wait``), with their results and the reasons for failures."""
        key = tasks_key(job_id)
        notifier = self.state.notifier
        if notifier.version(key) <= since:
            await notifier.wait(
                key, since, min(wait, self.state.config.long_poll_max), long_poll=True
            )
        version = notifier.version(key)
        store = self.state.store
        job = store.get_job(job_id)
        wanted = set(task_ids)
        tasks = [store.get_task(t) for t in task_ids]
        rounds = {t.round for t in tasks}
        updates = [u for r in rounds for u in store.list_updates(job_id, r) if u.task_id in wanted]
        # A refused update is not why a later task failed: only failures explain failures.
        errors = {e["site"]: e["error"] for e in job.site_errors if e.get("kind") != REJECTED}
        failures = {}
        for task in tasks:
            if task.status == TaskStatus.TIMEOUT:
                failures[task.site] = "no result before the task timeout"
            elif task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                failures[task.site] = errors.get(task.site, f"task {task.status.lower()}")
        return TasksState(
            version=version,
            job_status=job.status,
            tasks=tasks,
            updates=updates,
            failures=failures,
        )

    def close_tasks(self, job_id: str, task_ids: list[str]) -> None:
        """Cancel tasks whose results are no longer wanted (the round closed without them)."""
        store = self.state.store
        for task_id in task_ids:
            store.set_task_status(task_id, TaskStatus.CANCELLED)
        self.state.notifier.notify(tasks_key(job_id))

    def reject_update(self, job_id: str, task_id: str, reason: str) -> JobRecord:
        """Record that the workflow refused a task's update (policies.update_validation): a
        site error of kind ``rejected`` with its round and reason, which ``job meta``, REST
        and the site's trust score read. Recorded once per task, however often retried."""
        job = self.state.store.get_job(job_id)
        task = self.state.store.get_task(task_id)
        if task.job_id != job_id:
            raise NotFound(f"task {task_id} is not a task of job {job_id}")
        if any(e.get("task_id") == task_id for e in job.site_errors):
            return job
        record = self.state.store.update_job(
            job_id,
            add_site_error=rejection_record(
                task.site, task.round, task_id, reason, self.state.clock()
            ),
        )
        self.state.notifier.notify(job_key(job_id))
        return record

    def add_round(
        self,
        job_id: str,
        *,
        round: int,
        model_key: str,
        num_updates: int,
        num_samples: int,
        model_sha256: str | None = None,
    ) -> RoundRecord:
        """Record a round's global model (the file is already in the artifact store), with
        its sha256: ``model_sha256`` when the caller just hashed the file, else read here."""
        self._running(job_id)
        sha = model_sha256 or self.state.artifacts.sha256(model_key)
        record = self.state.store.add_round(
            job_id=job_id,
            round=round,
            model_path=model_key,
            model_sha256=sha,
            num_updates=num_updates,
            num_samples=num_samples,
            now=self.state.clock(),
        )
        self.state.notifier.notify(job_key(job_id))
        return record

    def set_round_metrics(self, job_id: str, round: int, metrics: dict[str, float]) -> RoundRecord:
        """Attach the sites' evaluation to a round."""
        record = self.state.store.set_round_metrics(job_id, round, metrics)
        self.state.store.update_job(job_id)  # bump the version: monitors show new metrics
        self.state.notifier.notify(job_key(job_id))
        return record

    def set_progress(
        self, job_id: str, current_round: int, total_rounds: int, reason: str
    ) -> JobRecord:
        """Record where the workflow is."""
        record = self.state.store.update_job(
            job_id, current_round=current_round, total_rounds=total_rounds, status_reason=reason
        )
        self.state.notifier.notify(job_key(job_id))
        publish_training_progress(self.state, record)
        return record

    def finish(self, job_id: str, ok: bool, reason: str) -> JobRecord:
        """End the job FINISHED_OK or FINISHED_EXCEPTION (no effect if it already ended)."""
        status = JobStatus.FINISHED_OK if ok else JobStatus.FINISHED_EXCEPTION
        changed = self.state.store.set_job_status(
            job_id, status, reason=reason, now=self.state.clock()
        )
        record = changed or self.state.store.get_job(job_id)
        settle_ended_job(self.state, record)
        return record

    def _running(self, job_id: str) -> JobRecord:
        job = self.state.store.get_job(job_id)
        if job.status in JOB_TERMINAL:
            raise Conflict(f"job {job_id} is {job.status}", code=ErrorCode.JOB_NOT_RUNNING)
        return job
