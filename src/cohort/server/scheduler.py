"""Background duties of the API process: start jobs when their sites are there, and settle
tasks whose deadline passed or whose site went silent."""

from __future__ import annotations

import logging

from cohort.errors import NotFound
from cohort.schemas.admin import DEFAULT_STUDY
from cohort.schemas.policy import JobPolicies
from cohort.schemas.records import JobRecord, SiteRecord
from cohort.server.notify import JOBS_KEY, job_key, tasks_key
from cohort.server.recovery import resume_wait
from cohort.server.selection import select_sites
from cohort.server.services.fleet import record_site_error
from cohort.server.services.jobs import settle_ended_job
from cohort.server.state import ServerState
from cohort.states import JobStatus, TaskStatus
from cohort.store import JobFilter

__all__ = ["Scheduler"]

log = logging.getLogger("cohort.scheduler")


class Scheduler:
    """Moves SUBMITTED jobs to DISPATCHED when ``min_clients`` of their sites are connected."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def run(self) -> None:
        """Loop until cancelled; woken early by submissions and site arrivals."""
        notifier = self.state.notifier
        while True:
            version = notifier.version(JOBS_KEY)
            try:
                await self.schedule_once()
                self.reap_once()
            except Exception:
                log.exception("scheduler pass failed; trying again")
            await notifier.wait(JOBS_KEY, version, self.state.config.scheduler_interval)

    async def schedule_once(self) -> None:
        """One pass over waiting jobs, oldest first."""
        store, now = self.state.store, self.state.clock()
        waiting = store.list_jobs(JobFilter(statuses=[JobStatus.SUBMITTED]))
        if not waiting:
            return
        online = self.state.connected_sites()
        for job in waiting:
            connected = {s.name for s in online}
            where = ""
            enrolled = _study_sites(self.state, job.study, online)
            if enrolled is not None:
                connected &= enrolled
                where = f" of study {job.study}"
            named = job.meta.get("deploy_map", {})
            wanted = _named_sites(named)
            eligible = sorted(connected if not wanted else connected & wanted)
            excluded = ""
            policies = _policies(job)
            if policies is not None:
                verdict = select_sites(self.state, eligible, policies)
                eligible = verdict.selected
                excluded = "".join(f"; {s} excluded: {why}" for s, why in verdict.reasons.items())
            min_clients = int(job.meta.get("min_clients", 1))
            if len(eligible) >= min_clients:
                await self._dispatch(job, eligible)
                continue
            reason = (
                f"waiting for {min_clients} sites{where}, {len(eligible)} connected"
                + (" and selected by the job's policies" if policies else "")
                + excluded
            )
            timeout = float(job.meta.get("scheduling_timeout", 300.0))
            if now - job.submit_time > timeout:
                ended = store.set_job_status(
                    job.job_id,
                    JobStatus.FAILED,
                    reason=f"not scheduled within {timeout:g} s: {reason}",
                    now=now,
                )
                if ended is not None:
                    settle_ended_job(self.state, ended)
            elif job.status_reason != reason:
                store.update_job(job.job_id, status_reason=reason)
                self.state.notifier.notify(job_key(job.job_id))

    async def _dispatch(self, job: JobRecord, sites: list[str]) -> None:
        store = self.state.store
        store.update_job(job.job_id, sites=sites)
        changed = store.set_job_status(
            job.job_id,
            JobStatus.DISPATCHED,
            reason=f"dispatched to {len(sites)} sites",
            now=self.state.clock(),
        )
        if changed is None:  # aborted in the meantime
            return
        self.state.notifier.notify(job_key(job.job_id))
        assert self.state.launcher is not None
        try:
            await self.state.launcher.start(changed)
        except Exception as exc:
            log.exception("job %s: could not start its server process", job.job_id)
            failed = store.set_job_status(
                job.job_id,
                JobStatus.FAILED,
                reason=f"could not start the server job process: {exc}",
                now=self.state.clock(),
            )
            if failed is not None:
                settle_ended_job(self.state, failed)

    def reap_once(self) -> None:
        """Time out overdue tasks; fail the open tasks of sites whose heartbeats stopped."""
        store, now = self.state.store, self.state.clock()
        # Just after a (re)start, sites not heard from since are given time to come back
        # before their tasks (of resumed jobs) are failed as lost.
        settling = now - self.state.started < resume_wait(self.state)
        sites = {s.name: s for s in store.list_sites()}
        active = store.list_jobs(JobFilter(statuses=[JobStatus.DISPATCHED, JobStatus.RUNNING]))
        for job in active:
            lost_noted = {e["site"] for e in job.site_errors if e.get("kind") == "lost"}
            changed = False
            for site_name in job.sites:
                open_tasks = store.open_tasks_for(job.job_id, site_name)
                if not open_tasks:
                    continue
                site = sites.get(site_name)
                if site is None or not self.state.is_connected(site, now):
                    if settling and (site is None or not self.state.heard_since_start(site)):
                        continue
                    if site_name not in lost_noted:
                        record_site_error(
                            self.state,
                            job,
                            site_name,
                            f"site {site_name} stopped sending heartbeats",
                            "",
                            "lost",
                        )
                    else:
                        for task in open_tasks:
                            store.set_task_status(task.task_id, TaskStatus.FAILED)
                    changed = True
                    continue
                for task in open_tasks:
                    if task.deadline < now:
                        store.set_task_status(task.task_id, TaskStatus.TIMEOUT)
                        changed = True
            if changed:
                self.state.notifier.notify(tasks_key(job.job_id))


def _policies(job: JobRecord) -> JobPolicies | None:
    """The job's selection policies, or None when it sets none (most jobs: no store reads)."""
    raw = job.meta.get("policies")
    if not raw:
        return None
    policies = JobPolicies.model_validate(raw)  # checked at submit (JobMeta)
    if policies.trust_threshold == 0 and not policies.resource_requirements.any():
        return None
    return policies


def _study_sites(state: ServerState, study: str, online: list[SiteRecord]) -> set[str] | None:
    """The connected sites enrolled in a registered ``study`` for the org their certificate
    names; None for a study outside the registry (``default`` or a plain namespace), which
    may run anywhere."""
    if study == DEFAULT_STUDY:
        return None
    try:
        enrolled = {(s.site, s.org) for s in state.store.get_study(study).sites}
    except NotFound:
        return None
    return {s.name for s in online if (s.name, s.org) in enrolled}


def _named_sites(deploy_map: dict[str, list[str]]) -> set[str]:
    targets = {t for ts in deploy_map.values() for t in ts}
    if "@ALL" in targets:
        return set()
    return targets - {"server"}
