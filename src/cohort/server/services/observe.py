"""Looking into a job: its stored logs, its statistics, and its processes' log settings."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from cohort.errors import Conflict, ErrorCode, NotFound
from cohort.logconfig import merge_setting
from cohort.schemas.admin import (
    JobLogs,
    JobStats,
    LogConfigReply,
    ServerStats,
    SiteLog,
    SiteStats,
)
from cohort.schemas.fleet import LogSetting
from cohort.schemas.job import LogFileName
from cohort.schemas.records import JobRecord
from cohort.server.services.jobs import JobService, job_dir
from cohort.server.services.logstore import (
    server_log_key,
    site_log_key,
    stored_site_logs,
    stream_plan,
)
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL

__all__ = ["MAX_LOG_RESPONSE_BYTES", "ObserveService"]

#: The newest part of a log that one response carries per target; the CLI bounds it further.
MAX_LOG_RESPONSE_BYTES = 4 * 1024 * 1024
SERVER = "server"
ALL = "all"


def _unknown_site(site: str, record: JobRecord) -> NotFound:
    return NotFound(
        f"site {site!r} takes no part in job {record.job_id}",
        code=ErrorCode.SITE_NOT_FOUND,
        hint=f"Targets of this job: {', '.join([SERVER, ALL, *record.sites])}.",
        details={"job_id": record.job_id, "site": site, "sites": record.sites},
    )


class ObserveService:
    """Read-mostly views of one job; log-config is its one write."""

    def __init__(self, state: ServerState, jobs: JobService) -> None:
        self.state = state
        self.jobs = jobs

    async def logs(
        self, job_id: str, study: str, site: str = SERVER, prefer: LogFileName = "log.txt"
    ) -> JobLogs:
        """The stored logs of the server job process and/or sites, newest part of each.

        A site's log is its ``prefer`` file when stored, else the other one. Right after a
        job ended this waits briefly for the sites' last lines, so that ``job wait`` then
        ``job logs`` shows whole logs.
        """
        record = self.jobs.get(job_id, study)
        await self.jobs.wait_for_final_logs(record)
        stored = stored_site_logs(self.state, job_id)
        targets = self._targets(record, site, stored=set(stored))
        result = [self._one_log(record, t, stored.get(t, []), prefer) for t in targets]
        return JobLogs(job_id=job_id, study=record.study, logs=result)

    def _targets(self, record: JobRecord, site: str, *, stored: set[str]) -> list[str]:
        if site == ALL:
            return [SERVER, *sorted((set(record.sites) | stored) - {SERVER})]
        if site == SERVER or site in record.sites or site in stored:
            return [site]
        raise _unknown_site(site, record)

    def _one_log(
        self, record: JobRecord, target: str, files: list[LogFileName], prefer: LogFileName
    ) -> SiteLog:
        if target == SERVER:
            key, file = server_log_key(record.job_id), "log.txt"
        elif files:
            file = prefer if prefer in files else files[0]
            key = site_log_key(record.job_id, target, file)
        else:
            return SiteLog(site=target, available=False, reason=self._why_missing(record, target))
        path = self.state.artifacts.path(key)
        if not path.is_file():
            return SiteLog(site=target, available=False, reason=self._why_missing(record, target))
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > MAX_LOG_RESPONSE_BYTES:
                fh.seek(size - MAX_LOG_RESPONSE_BYTES)
            raw = fh.read(MAX_LOG_RESPONSE_BYTES)
        truncated = size > MAX_LOG_RESPONSE_BYTES
        if truncated and b"\n" in raw:
            raw = raw[raw.index(b"\n") + 1 :]  # start at a whole line
        return SiteLog(
            site=target,
            available=True,
            file=file,
            content=raw.decode("utf-8", "replace"),
            stored_bytes=size,
            truncated_by_server=truncated,
        )

    def _why_missing(self, record: JobRecord, target: str) -> str:
        if target == SERVER:
            return "the server job process has not started yet"
        plan = stream_plan(self.state, record, target)
        return plan.reason or "no log content has been streamed from this site yet"

    def stats(self, job_id: str, study: str, site: str = ALL) -> JobStats:
        """Where the job stands, on the server and per site, from the store."""
        record = self.jobs.get(job_id, study)
        if site not in (ALL, SERVER) and site not in record.sites:
            raise _unknown_site(site, record)
        store = self.state.store
        updates = store.list_updates(job_id)
        result = JobStats(job_id=job_id, study=record.study)
        if site in (ALL, SERVER):
            rounds = store.list_rounds(job_id)
            latest = next((r.metrics for r in reversed(rounds) if r.metrics), {})
            result.server = ServerStats(
                status=record.status,
                current_round=record.current_round,
                total_rounds=record.total_rounds,
                rounds_completed=max((r.round for r in rounds), default=0),
                updates_received=len(updates),
                latest_metrics=latest,
                start_time=record.start_time,
                end_time=record.end_time,
                status_reason=record.status_reason,
            )
        if site != SERVER:
            tasks = store.list_tasks(job_id)
            for name in record.sites if site == ALL else [site]:
                mine = [u for u in updates if u.site == name]
                result.sites[name] = SiteStats(
                    site=name,
                    tasks=dict(Counter(str(t.status) for t in tasks if t.site == name)),
                    updates_received=len(mine),
                    samples=sum(u.num_samples for u in mine),
                    last_update_time=max((u.received for u in mine), default=None),
                    errors=[str(e["error"]) for e in record.site_errors if e["site"] == name],
                )
        return result

    def set_log_config(
        self, job_id: str, study: str, setting: str | dict[str, Any], site: str
    ) -> LogConfigReply:
        """Record a log level or mode for a running job's processes; they apply it within a
        second or two (the server job process from the artifact store, sites by heartbeat)."""
        merge_setting(None, setting)  # refuse a bad value before anything else
        record = self.jobs.get(job_id, study)
        if record.status in JOB_TERMINAL:
            raise Conflict(
                f"job {job_id} is {record.status}; log-config changes running jobs only",
                code=ErrorCode.JOB_NOT_RUNNING,
                details={"job_id": job_id, "status": record.status},
            )
        if site == ALL:
            targets = [SERVER, *record.sites]
        elif site == SERVER or site in record.sites:
            targets = [site]
        else:
            raise _unknown_site(site, record)
        configs = self.state.log_configs.setdefault(job_id, {})
        changed: dict[str, LogSetting] = {}
        for target in targets:
            changed[target] = configs[target] = merge_setting(configs.get(target), setting)
        body = {t: s.model_dump() for t, s in configs.items()}
        self.state.artifacts.write_bytes(
            f"{job_dir(job_id)}/log_config.json", json.dumps(body).encode()
        )
        return LogConfigReply(job_id=job_id, study=record.study, setting=setting, targets=changed)
