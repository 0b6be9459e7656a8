"""The admin API over HTTPS: the one client the session API and the CLI both build on.

Every server call of the job command line is a method here; errors raise
:class:`~cohort.errors.CohortError` with the server's stable code (or NO_CONNECTION).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cohort.admin.registry import RegistryCalls
from cohort.errors import ErrorCode, Timeout
from cohort.httpclient import check_response, connection_error, kit_client
from cohort.jobfolder import zip_job_folder
from cohort.provision.kit import Kit
from cohort.schemas.admin import (
    DEFAULT_STUDY,
    CloneReply,
    DeleteReply,
    JobLogs,
    JobStats,
    LogConfigReply,
    LogConfigRequest,
    SubmitReply,
)
from cohort.schemas.records import ApiTokenRecord, JobRecord, RoundRecord
from cohort.schemas.tokens import CreateTokenReply, CreateTokenRequest
from cohort.states import JOB_TERMINAL

__all__ = ["AdminAPI", "pack_job"]

#: Longest single long-poll request; waits longer than this are several requests.
MAX_POLL = 20.0


def pack_job(job: Path | bytes) -> bytes:
    """A job as the zip the server takes: a folder is zipped, a ``.zip`` file read as is."""
    if isinstance(job, bytes):
        return job
    if job.is_file():
        return job.read_bytes()
    return zip_job_folder(job)


class AdminAPI(RegistryCalls):
    """Calls ``/admin/v1`` with an admin startup kit. Errors raise :class:`CohortError`."""

    def __init__(self, kit: Kit, timeout: float = 30.0) -> None:
        self.kit = kit
        self.timeout = timeout
        self.http = kit_client(kit, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> AdminAPI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return check_response(self.http.request(method, url, **kwargs))
        except httpx.TransportError as exc:
            raise connection_error(self.kit.server_url, exc) from exc

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        """Any ``/admin/v1`` route: its decoded JSON answer (None for an empty one)."""
        response = self._request(method, url, **kwargs)
        return response.json() if response.content else None

    # -- submit -------------------------------------------------------------------------------
    def submit(
        self,
        job: Path | bytes,
        study: str = DEFAULT_STUDY,
        submit_token: str | None = None,
    ) -> SubmitReply:
        """Submit a job folder, a job zip file, or zip bytes.

        With ``submit_token``, a retry of the same content in the same study returns the job
        of the first submit (``created`` False) instead of a second job.
        """
        params = {"study": study}
        if submit_token is not None:
            params["submit_token"] = submit_token
        response = self._request(
            "POST",
            "/admin/v1/jobs",
            params=params,
            content=pack_job(job),
            headers={"Content-Type": "application/zip"},
        )
        return SubmitReply.model_validate(response.json())

    def submit_job(
        self, folder: Path, study: str = DEFAULT_STUDY, submit_token: str | None = None
    ) -> str:
        """Submit a job folder; return its job id."""
        return self.submit(folder, study, submit_token).job_id

    # -- read -------------------------------------------------------------------------------
    def list_jobs(self, **filters: Any) -> list[JobRecord]:
        """List jobs (filters: study, submit_token, id_prefix, name_prefix, status, limit,
        reverse). Study "all" lists every study; none lists every study too."""
        params = {k: v for k, v in filters.items() if v is not None}
        response = self._request("GET", "/admin/v1/jobs", params=params)
        return [JobRecord.model_validate(j) for j in response.json()]

    def get_job(
        self,
        job_id: str,
        since_version: int = 0,
        wait: float = 0.0,
        study: str = DEFAULT_STUDY,
    ) -> JobRecord:
        """A job's record; with ``wait``, returns once it changed after ``since_version``."""
        response = self._request(
            "GET",
            f"/admin/v1/jobs/{job_id}",
            params={"since_version": since_version, "wait": wait, "study": study},
            timeout=wait + self.timeout,  # a long poll's wait plus the usual limit
        )
        return JobRecord.model_validate(response.json())

    def rounds(self, job_id: str, study: str = DEFAULT_STUDY) -> list[RoundRecord]:
        """The job's model trail with each round's metrics."""
        response = self._request("GET", f"/admin/v1/jobs/{job_id}/rounds", params={"study": study})
        return [RoundRecord.model_validate(r) for r in response.json()]

    def job_logs(
        self,
        job_id: str,
        site: str = "server",
        study: str = DEFAULT_STUDY,
        prefer: str = "log.txt",
    ) -> JobLogs:
        """Stored logs of the server job process ("server"), a site, or "all"; a site that
        stored both log.txt and log.json answers with ``prefer``."""
        response = self._request(
            "GET",
            f"/admin/v1/jobs/{job_id}/logs",
            params={"site": site, "study": study, "prefer": prefer},
        )
        return JobLogs.model_validate(response.json())

    def job_stats(self, job_id: str, site: str = "all", study: str = DEFAULT_STUDY) -> JobStats:
        """Round, status and per-site task and update counts of a job."""
        response = self._request(
            "GET", f"/admin/v1/jobs/{job_id}/stats", params={"site": site, "study": study}
        )
        return JobStats.model_validate(response.json())

    def system_info(self) -> dict[str, Any]:
        """Server status, sites and running jobs."""
        result: dict[str, Any] = self._request("GET", "/admin/v1/system").json()
        return result

    # -- change -----------------------------------------------------------------------------
    def abort_job(self, job_id: str, study: str = DEFAULT_STUDY) -> JobRecord:
        """Abort a job (no effect once it has ended)."""
        response = self._request("POST", f"/admin/v1/jobs/{job_id}/abort", params={"study": study})
        return JobRecord.model_validate(response.json())

    def delete_job(self, job_id: str, study: str = DEFAULT_STUDY) -> DeleteReply:
        """Delete a job on the server and its sites (a running job is aborted first)."""
        response = self._request("DELETE", f"/admin/v1/jobs/{job_id}", params={"study": study})
        return DeleteReply.model_validate(response.json())

    def clone_job(self, job_id: str, study: str = DEFAULT_STUDY) -> CloneReply:
        """Submit a job's stored archive again as a new job."""
        response = self._request("POST", f"/admin/v1/jobs/{job_id}/clone", params={"study": study})
        return CloneReply.model_validate(response.json())

    def set_log_config(
        self,
        job_id: str,
        setting: str | dict[str, Any],
        site: str = "all",
        study: str = DEFAULT_STUDY,
    ) -> LogConfigReply:
        """Change the log level or mode of a running job's server process and/or sites."""
        body = LogConfigRequest(setting=setting, site=site).model_dump()
        response = self._request(
            "POST", f"/admin/v1/jobs/{job_id}/log-config", params={"study": study}, json=body
        )
        return LogConfigReply.model_validate(response.json())

    # -- REST API keys ----------------------------------------------------------------------
    def create_token(
        self, role: str, name: str = "", expires_in: float | None = None
    ) -> CreateTokenReply:
        """Create a Bearer key for the REST API; the reply is the only time the key is shown."""
        body = CreateTokenRequest(role=role, name=name, expires_in=expires_in).model_dump()
        response = self._request("POST", "/admin/v1/tokens", json=body)
        return CreateTokenReply.model_validate(response.json())

    def list_tokens(self) -> list[ApiTokenRecord]:
        """Every key's record (never the keys)."""
        response = self._request("GET", "/admin/v1/tokens")
        return [ApiTokenRecord.model_validate(t) for t in response.json()]

    def revoke_token(self, token_id: str) -> ApiTokenRecord:
        """Revoke a key at once."""
        response = self._request("DELETE", f"/admin/v1/tokens/{token_id}")
        return ApiTokenRecord.model_validate(response.json())

    # -- wait -------------------------------------------------------------------------------
    def wait_job(
        self,
        job_id: str,
        timeout: float = 0.0,
        on_change: Callable[[JobRecord], None] | None = None,
        study: str = DEFAULT_STUDY,
        poll: float = MAX_POLL,
        on_poll: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Block until the job ends (``timeout`` 0 waits for ever); TIMEOUT if it does not.

        Waiting is a long poll of at most ``poll`` seconds per request: a change is seen at
        once. ``on_change(record)`` is called with every new version of the job, for progress;
        ``on_poll(record)`` after every request, changed or not.
        """
        deadline = None if timeout <= 0 else _now() + timeout
        record = self.get_job(job_id, study=study)
        seen = -1
        while True:
            if on_change is not None and record.version != seen:
                on_change(record)
            seen = record.version
            if on_poll is not None:
                on_poll(record)
            if record.status in JOB_TERMINAL:
                return record
            wait = min(poll, MAX_POLL) if deadline is None else min(poll, deadline - _now())
            if wait <= 0:
                raise Timeout(
                    f"job {job_id} is still {record.status} after {timeout:g} s",
                    code=ErrorCode.TIMEOUT,
                    hint="Wait longer with a larger --timeout (0 waits for ever).",
                    details={"job_id": job_id, "status": record.status},
                )
            record = self.get_job(job_id, since_version=record.version, wait=wait, study=study)

    # -- download ---------------------------------------------------------------------------
    def download_result(self, job_id: str, destination: Path, study: str = DEFAULT_STUDY) -> Path:
        """Download the result archive and unpack it into ``destination`` (created once the
        download succeeded: a refused download leaves nothing behind)."""
        with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as tmp:
            try:
                with self.http.stream(
                    "GET", f"/admin/v1/jobs/{job_id}/result", params={"study": study}
                ) as response:
                    if not response.is_success:
                        response.read()
                        check_response(response)
                    for chunk in response.iter_bytes(1024 * 1024):
                        tmp.write(chunk)
            except httpx.TransportError as exc:
                raise connection_error(self.kit.server_url, exc) from exc
        try:
            destination.mkdir(parents=True, exist_ok=True)
            shutil.unpack_archive(tmp.name, destination, "zip")
        finally:
            Path(tmp.name).unlink(missing_ok=True)
        return destination


def _now() -> float:
    return time.monotonic()
