"""Server start-up after a crash or a restart: resume the jobs a previous server process left
running, or settle them ABANDONED with the reason, before any site is served.

A job resumes when its workflow can (``Workflow.resumable``: its whole state is the last
round's global model) and that model is on disk with the checksum the store recorded. Its job
process is started again in resume mode once the job's sites are back (or after
:func:`resume_wait`), and continues after the last completed round; tasks of the round that
was interrupted are taken over (see ``WorkService.create_tasks``), so no update is asked for
or counted twice.
"""

from __future__ import annotations

import json
import logging

from cohort.errors import CohortError
from cohort.jobfolder import SERVER_CONFIG
from cohort.schemas.job import JobMeta, ServerAppConfig
from cohort.schemas.records import JobRecord
from cohort.server.notify import JOBS_KEY, job_key
from cohort.server.services.jobs import job_dir, settle_ended_job
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.store import JobFilter

__all__ = ["recover_jobs", "resume_jobs", "resume_wait"]

log = logging.getLogger("cohort.recovery")


def resume_wait(state: ServerState) -> float:
    """Seconds after start-up during which resumed jobs wait for their sites to reconnect
    and silent sites are not yet declared lost (an agent backs off up to 10 s between
    attempts while the server is away)."""
    return max(30.0, 3 * state.config.site_dead_after)


def recover_jobs(state: ServerState) -> list[JobRecord]:
    """Settle the DISPATCHED/RUNNING jobs that cannot resume (ABANDONED, with the reason);
    mark the others as resumed (meta ``restarts``, ``resumed_from_round``) and return them."""
    store = state.store
    resumable = []
    for job in store.list_jobs(JobFilter(statuses=[JobStatus.DISPATCHED, JobStatus.RUNNING])):
        why = cannot_resume(state, job)
        if why is not None:
            ended = store.set_job_status(
                job.job_id,
                JobStatus.ABANDONED,
                reason=f"the server restarted while the job ran and it cannot resume: {why}",
                now=state.clock(),
            )
            if ended is not None:
                log.warning("job %s: abandoned after a restart: %s", job.job_id, why)
                settle_ended_job(state, ended)
            continue
        rounds = store.list_rounds(job.job_id)
        last = rounds[-1].round if rounds else None
        restarts = int(job.meta.get("restarts", 0)) + 1
        where = f"round {last}" if last is not None else "the start"
        record = store.update_job(
            job.job_id,
            merge_meta={"restarts": restarts, "resumed_from_round": last},
            status_reason=f"resuming from {where} after a server restart",
        )
        log.warning(
            "job %s: resuming from %s after a server restart (restart %d)",
            job.job_id,
            where,
            restarts,
        )
        resumable.append(record)
    return resumable


def cannot_resume(state: ServerState, job: JobRecord) -> str | None:
    """Why ``job`` cannot resume, or None when it can."""
    from cohort.workflows import WORKFLOWS  # here: the registry imports numpy-heavy modules

    root = state.artifacts.path(f"{job_dir(job.job_id)}/job")
    try:
        meta = JobMeta.model_validate_json((root / "meta.json").read_text())
        app = meta.server_app() or ""
        config = ServerAppConfig.model_validate(
            json.loads((root / app / SERVER_CONFIG).read_text())
        )
    except (OSError, ValueError) as exc:
        return f"its job folder cannot be read ({type(exc).__name__}: {exc})"
    workflow = WORKFLOWS.get(config.workflow)
    if workflow is None or not workflow.resumable:
        return f"workflow {config.workflow} keeps state that is not saved per round"
    rounds = state.store.list_rounds(job.job_id)
    if rounds:
        last = rounds[-1]
        try:
            intact = state.artifacts.sha256(last.model_path) == last.model_sha256
        except CohortError:
            intact = False
        if not intact:
            return f"round {last.round}'s global model ({last.model_path}) is missing or damaged"
    return None


async def resume_jobs(state: ServerState, jobs: list[JobRecord]) -> None:
    """Start each job's process again in resume mode, once all its sites are connected or
    :func:`resume_wait` seconds after start-up, whichever comes first."""
    notifier = state.notifier
    deadline = state.clock() + resume_wait(state)
    pending = list(jobs)
    while pending:
        version = notifier.version(JOBS_KEY)
        connected = {s.name for s in state.connected_sites() if state.heard_since_start(s)}
        late = state.clock() >= deadline
        for job in [j for j in pending if late or set(j.sites) <= connected]:
            pending.remove(job)
            await _relaunch(state, job)
        for job in pending:
            missing = sorted(set(job.sites) - connected)
            reason = f"resuming after a server restart: waiting for {', '.join(missing)}"
            if state.store.get_job(job.job_id).status_reason != reason:
                state.store.update_job(job.job_id, status_reason=reason)
                notifier.notify(job_key(job.job_id))
        if pending:
            await notifier.wait(JOBS_KEY, version, 1.0)


async def _relaunch(state: ServerState, job: JobRecord) -> None:
    current = state.store.get_job(job.job_id)
    if current.status in JOB_TERMINAL:  # aborted while it waited for its sites
        return
    assert state.launcher is not None
    try:
        await state.launcher.start(current, resume=True)
    except Exception as exc:
        log.exception("job %s: could not restart its server process", job.job_id)
        failed = state.store.set_job_status(
            job.job_id,
            JobStatus.FAILED,
            reason=f"could not restart the server job process: {exc}",
            now=state.clock(),
        )
        if failed is not None:
            settle_ended_job(state, failed)
