"""Jobs as admins see them: submit (retry-safe with a token), read, wait, abort, download,
clone and delete, each within a study."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from cohort.jobcontent import job_content_sha256
from cohort.jobfolder import extract_job_zip, validate_job_zip
from cohort.schemas.admin import (
    ALL_STUDIES,
    SUBMIT_TOKEN_MAX,
    CloneReply,
    DeleteReply,
    is_study_name,
    is_submit_token,
)
from cohort.schemas.records import JobRecord, RoundRecord
from cohort.server.notify import JOBS_KEY, job_key, site_tasks_key, tasks_key
from cohort.server.services.events import publish_training_progress
from cohort.server.services.results import build_result_zip
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.store import JobFilter
from cohort.store.tokens import job_deleted_error, resolve_token
from cohort.tls import Identity

__all__ = ["JobService", "job_dir", "job_not_found", "settle_ended_job"]


#: How long after a job ends a download waits for sites' final log lines.
LOG_GRACE_SECONDS = 10.0


def job_dir(job_id: str) -> str:
    """Artifact key of a job's folder."""
    return f"jobs/{job_id}"


def job_not_found(job_id: str, study: str) -> NotFound:
    """JOB_NOT_FOUND naming the study that was searched."""
    return NotFound(
        f"job {job_id} not found in study {study!r}",
        code=ErrorCode.JOB_NOT_FOUND,
        hint="If the job was submitted to another study, retry with --study <name>; "
        "`cohort job list --study all` lists every study.",
        details={"job_id": job_id, "study": study},
    )


def check_study(study: str) -> None:
    """Refuse a study name that cannot name a study."""
    if not is_study_name(study):
        raise InvalidRequest(
            f"{study!r} is not a valid study name",
            code=ErrorCode.INVALID_STUDY_NAME,
            hint="Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(and not {ALL_STUDIES!r}).",
            details={"study": study},
        )


def check_token(token: str) -> None:
    """Refuse a submit token outside the documented charset and length."""
    if not is_submit_token(token):
        raise InvalidRequest(
            "submit token must be 1-128 characters of letters, digits, '.', '_', ':' or '-'",
            code=ErrorCode.INVALID_ARGS,
            hint=f"Generate one with `uuidgen`; at most {SUBMIT_TOKEN_MAX} characters.",
        )


class JobService:
    """Admin-facing job operations."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def submit(
        self,
        who: Identity,
        data: bytes,
        study: str = "default",
        submit_token: str | None = None,
        job_id: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """Validate a job archive completely, store it, then record the job as SUBMITTED.

        Validation comes first, so a refused archive leaves no trace anywhere. With a submit
        token, a repeat of an earlier submit (same study, submitter, token and content)
        returns that job with ``created`` False; see ``StateStore.create_job_with_token``.
        ``job_id`` (default: a new UUID) lets the REST API give a job its experiment's id.
        """
        check_study(study)
        cfg = self.state.config
        folder = validate_job_zip(data, cfg.max_job_bytes)
        store = self.state.store
        content = None
        if submit_token is not None:
            check_token(submit_token)
            content = job_content_sha256(data, folder)
            known = store.get_submit_token(study=study, submitter=who.name, token=submit_token)
            if known is not None:  # a retry: answer without writing anything
                return store.get_job(resolve_token(known, content)), False
        if job_id is not None and self._exists(job_id):  # before touching its artifact folder
            raise Conflict(f"job {job_id!r} already exists", details={"job_id": job_id})
        job_id = job_id or str(uuid.uuid4())
        arts = self.state.artifacts
        sha = arts.write_bytes(f"{job_dir(job_id)}/job.zip", data)
        tmp = arts.path(f"{job_dir(job_id)}/job.tmp")
        try:
            extract_job_zip(data, tmp, cfg.max_job_bytes)
            tmp.rename(arts.path(f"{job_dir(job_id)}/job"))
            fields: dict[str, Any] = {
                "job_id": job_id,
                "name": folder.meta.name,
                "study": study,
                "submitter": who.name,
                "submitter_org": who.org,
                "submitter_role": who.role,
                "meta": folder.meta.model_dump(mode="json"),
                "job_sha256": sha,
                "submit_time": self.state.clock(),
            }
            if submit_token is None or content is None:
                record, created = store.create_job(**fields), True
            else:
                record, created = store.create_job_with_token(
                    **fields, token=submit_token, content_sha256=content
                )
        except BaseException:
            arts.delete_prefix(job_dir(job_id))
            raise
        if not created:  # lost a race with a concurrent submit of the same token
            arts.delete_prefix(job_dir(job_id))
            return record, False
        self.state.notifier.notify(JOBS_KEY)
        return record, True

    def _exists(self, job_id: str) -> bool:
        try:
            self.state.store.get_job(job_id)
        except NotFound:
            return False
        return True

    def get(self, job_id: str, study: str | None = None) -> JobRecord:
        """Return one job; JOB_NOT_FOUND if unknown or (with ``study``) in another study."""
        try:
            record = self.state.store.get_job(job_id)
        except NotFound:
            if study is None:
                raise
            raise job_not_found(job_id, study) from None
        if study is not None and study != ALL_STUDIES and record.study != study:
            raise job_not_found(job_id, study)
        return record

    async def wait_for_change(
        self, job_id: str, since_version: int, wait: float, study: str | None = None
    ) -> JobRecord:
        """Return the job once its version passes ``since_version``, or after ``wait`` s."""
        record = self.get(job_id, study)
        key = job_key(job_id)
        deadline = min(wait, self.state.config.long_poll_max)
        if record.version <= since_version and record.status not in JOB_TERMINAL and deadline > 0:
            notifier = self.state.notifier
            await notifier.wait(key, notifier.version(key), deadline, long_poll=True)
            record = self.get(job_id, study)
        return record

    def find(self, flt: JobFilter) -> list[JobRecord]:
        """List jobs with the given filters (study "all" lists every study)."""
        if flt.study == ALL_STUDIES:
            flt.study = None
        return self.state.store.list_jobs(flt)

    def find_by_token(self, who: Identity, study: str, token: str) -> list[JobRecord]:
        """The job the caller's token created in ``study`` (none when the token is unused);
        SUBMIT_TOKEN_JOB_DELETED when that job was deleted."""
        check_token(token)
        record = self.state.store.get_submit_token(study=study, submitter=who.name, token=token)
        if record is None:
            return []
        job_id = resolve_token(record)
        try:
            return [self.state.store.get_job(job_id)]
        except NotFound:  # deleted between the two reads
            fresh = self.state.store.get_submit_token(study=study, submitter=who.name, token=token)
            raise job_deleted_error(fresh or record) from None

    def rounds(self, job_id: str, study: str | None = None) -> list[RoundRecord]:
        """The job's model trail."""
        self.get(job_id, study)
        return self.state.store.list_rounds(job_id)

    async def abort(
        self, job_id: str, reason: str = "aborted by an admin", study: str | None = None
    ) -> JobRecord:
        """Abort a job: no effect when it is already done; stops every process of it."""
        record = self.get(job_id, study)
        if record.status in JOB_TERMINAL:
            return record
        changed = self.state.store.set_job_status(
            job_id, JobStatus.ABORTED, reason=reason, now=self.state.clock()
        )
        if changed is None:  # lost a race with another final write: that one stands
            return self.get(job_id)
        settle_ended_job(self.state, changed)
        if self.state.launcher is not None:
            await self.state.launcher.stop(job_id)
        return changed

    async def delete(self, who: Identity, job_id: str, study: str) -> DeleteReply:
        """Delete a job everywhere: abort it first if it runs, then its store rows, its server
        workspace, and (told with their next heartbeat) every site's workspace of it.

        Its submit-token records stay, marked ``job_deleted``.
        """
        record = self.get(job_id, study)
        aborted = record.status not in JOB_TERMINAL
        if aborted:
            record = await self.abort(job_id, reason=f"aborted by {who.name} to delete it")
        marked = self.state.store.delete_job(job_id, now=self.state.clock())
        self.state.artifacts.delete_prefix(job_dir(job_id))
        self.state.exited.pop(job_id, None)
        self.state.log_configs.pop(job_id, None)
        for site in record.sites:
            self.state.pending_deletes.setdefault(site, set()).add(job_id)
        self.state.notifier.notify(JOBS_KEY, job_key(job_id))
        return DeleteReply(
            job_id=job_id,
            study=record.study,
            aborted_first=aborted,
            submit_records_marked_deleted=marked,
            site_cleanup_pending=sorted(record.sites),
        )

    def clone(self, who: Identity, job_id: str, study: str) -> CloneReply:
        """Submit the stored archive of a job again, as a new job in the same study."""
        record = self.get(job_id, study)
        data = self.state.artifacts.path(f"{job_dir(job_id)}/job.zip").read_bytes()
        new, _ = self.submit(who, data, record.study)
        return CloneReply(source_job_id=job_id, new_job_id=new.job_id, study=record.study)

    async def result_archive(self, job_id: str, study: str | None = None) -> Path:
        """Return the path of the job's result zip once the job is done.

        Sites stream their last log lines as their scripts exit, just after the job ends; a
        download in that moment waits (briefly) for them so the archive holds whole logs.
        """
        record = self.get(job_id, study)
        if record.status not in JOB_TERMINAL:
            raise Conflict(
                f"job {job_id} is {record.status}, not finished",
                code=ErrorCode.JOB_NOT_DONE,
                hint=f"Wait for it first: cohort job wait {job_id}",
            )
        await self.wait_for_final_logs(record)
        return build_result_zip(self.state, record)

    async def wait_for_final_logs(self, record: JobRecord) -> None:
        """Just after a job ended, wait (at most LOG_GRACE_SECONDS after its end) until every
        site's script has exited and so has shipped its last log lines."""
        if record.status not in JOB_TERMINAL:
            return
        key, notifier = job_key(record.job_id), self.state.notifier
        while True:
            pending = set(record.sites) - self.state.exited.get(record.job_id, set())
            left = (record.end_time or 0) + LOG_GRACE_SECONDS - self.state.clock()
            if not pending or left <= 0:
                return
            await notifier.wait(key, notifier.version(key), left)


def settle_ended_job(state: ServerState, record: JobRecord) -> None:
    """After a job reaches a terminal status: cancel its open tasks and wake everyone."""
    state.store.cancel_open_tasks(record.job_id)
    keys = [JOBS_KEY, job_key(record.job_id), tasks_key(record.job_id)]
    keys += [site_tasks_key(record.job_id, s) for s in record.sites]
    state.notifier.notify(*keys)
    publish_training_progress(state, record)
