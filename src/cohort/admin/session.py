"""The session API: :func:`new_secure_session` and :class:`Session` (seed 000's SessionSpec).

A script written against the spec runs with only its import line changed::

    from cohort.admin import new_secure_session

    sess = new_secure_session("admin@cohort.local", "/tmp/cohort/poc/prod_00/admin@cohort.local")
    try:
        job_id = sess.submit_job("examples/hello-numpy/job")
        sess.monitor_job(job_id)
    finally:
        sess.close()
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from cohort.admin.api import AdminAPI
from cohort.admin.kits import resolve_admin_kit
from cohort.admin.logsetting import log_setting
from cohort.admin.session_system import SystemCommands
from cohort.admin.spec import SessionSpec
from cohort.admin.spec_errors import invalid, is_tls_refusal, translate_errors
from cohort.admin.spec_types import (
    ClientInfo,
    JobInfo,
    MonitorReturnCode,
    ServerInfo,
    SystemInfo,
)
from cohort.errors import CohortError, ConnectionFailed, ErrorCode
from cohort.schemas.admin import DEFAULT_STUDY
from cohort.schemas.records import JobRecord
from cohort.states import JOB_TERMINAL, JobStatus

__all__ = ["Session", "new_secure_session"]

_LEGACY_LIST_ARGS = {"id": "id_prefix", "job_id": "id_prefix", "name": "name_prefix"}


def _meta(record: JobRecord) -> dict[str, Any]:
    """A job record as the spec's job meta dict (``job_name`` as an alias of ``name``)."""
    meta = record.model_dump(mode="json")
    meta["job_name"] = record.name
    return meta


class Session(SystemCommands, SessionSpec):
    """An admin session on one server, authenticated by an admin startup kit.

    Use :func:`new_secure_session` to open one. Every failure raises an exception of
    :mod:`cohort.admin.spec_types`; each method is documented on :class:`SessionSpec`.
    """

    def __init__(self, api: AdminAPI, study: str = DEFAULT_STUDY) -> None:
        self.api = api
        self.study = study
        self.closed = False
        self.command_timeout: float | None = None

    def _live(self) -> AdminAPI:
        if self.closed:
            raise CohortError("the session is closed", code=ErrorCode.SESSION_CLOSED)
        return self.api

    @property
    def transfer_dir(self) -> Path:
        """Where results and components are downloaded (the kit's ``transfer/`` folder)."""
        return self.api.kit.dir / "transfer"

    # -- jobs -----------------------------------------------------------------------------------
    @translate_errors
    def submit_job(self, job_definition_path: str, submit_token: str | None = None) -> str:
        """Submit a job folder (or job zip); return its id."""
        path = Path(job_definition_path)
        if not path.is_dir() and not (path.is_file() and path.suffix == ".zip"):
            raise CohortError(
                f"{job_definition_path} is not a job folder or a job zip file",
                code=ErrorCode.INVALID_JOB_DEFINITION,
                details={"path": str(path)},
            )
        return self._live().submit(path, self.study, submit_token).job_id

    @translate_errors
    def clone_job(self, job_id: str) -> str:
        """Submit a stored job again; return the new job's id."""
        return self._live().clone_job(job_id, self.study).new_job_id

    @translate_errors
    def list_jobs(
        self,
        detailed: bool = False,
        limit: int | None = None,
        id_prefix: str | None = None,
        name_prefix: str | None = None,
        reverse: bool = False,
        submit_token: str | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """List jobs with the given filters."""
        for key, value in kwargs.items():
            if key not in _LEGACY_LIST_ARGS:
                raise invalid(f"list_jobs got an unexpected argument {key!r}")
            if _LEGACY_LIST_ARGS[key] == "id_prefix":
                id_prefix = id_prefix or value
            else:
                name_prefix = name_prefix or value
        if limit is not None and limit < 0:
            raise invalid(f"limit must be 0 (all) or positive, not {limit}")
        records = self._live().list_jobs(
            study=self.study,
            id_prefix=id_prefix,
            name_prefix=name_prefix,
            limit=limit or None,
            reverse=reverse or None,
            submit_token=submit_token,
        )
        if detailed:
            return [_meta(r) for r in records]
        return [
            {
                "job_id": r.job_id,
                "job_name": r.name,
                "status": str(r.status),
                "submit_time": r.submit_time,
                "duration": (r.end_time or time.time()) - r.start_time if r.start_time else 0.0,
            }
            for r in records
        ]

    @translate_errors
    def get_job_meta(self, job_id: str) -> dict[str, Any]:
        """The job's metadata."""
        return _meta(self._live().get_job(job_id, study=self.study))

    @translate_errors
    def get_job_logs(
        self,
        job_id: str,
        target: str = "server",
        tail_lines: int | None = None,
        grep_pattern: str | None = None,
        log_file_name: str = "log.txt",
    ) -> dict[str, Any]:
        """Stored logs of a job per target."""
        if log_file_name != "log.txt":
            raise invalid(f"only log.txt is stored per target, not {log_file_name!r}")
        if tail_lines is not None and tail_lines < 0:
            raise invalid("tail_lines must not be negative")
        try:
            regex = re.compile(grep_pattern) if grep_pattern else None
        except re.error as exc:
            raise invalid(f"bad grep_pattern: {exc}") from exc
        reply = self._live().job_logs(job_id, site=target, study=self.study)
        logs: dict[str, str] = {}
        unavailable: dict[str, str] = {}
        for entry in reply.logs:
            if not entry.available:
                unavailable[entry.site] = entry.reason
                continue
            lines = entry.content.splitlines(keepends=True)
            if regex is not None:
                lines = [line for line in lines if regex.search(line)]
            if tail_lines is not None:
                lines = lines[-tail_lines:] if tail_lines else []
            logs[entry.site] = "".join(lines)
        result: dict[str, Any] = {"job_id": job_id, "logs": logs}
        if unavailable:
            result["unavailable"] = unavailable
        return result

    @translate_errors
    def abort_job(self, job_id: str) -> None:
        """Abort a job."""
        self._live().abort_job(job_id, self.study)

    @translate_errors
    def delete_job(self, job_id: str) -> dict[str, Any]:
        """Delete a job everywhere."""
        return self._live().delete_job(job_id, self.study).model_dump()

    @translate_errors
    def download_job_result(self, job_id: str, destination: str | None = None) -> str:
        """Download and unpack a job's result; return its folder."""
        base = Path(destination) if destination is not None else self.transfer_dir
        folder = base / job_id
        if folder.exists():
            shutil.rmtree(folder)  # a fresh download replaces an earlier one
        return str(self._live().download_result(job_id, folder, self.study))

    @translate_errors
    def list_job_components(self, job_id: str) -> list[str]:
        """Names of the job's additional components."""
        reply = self._live().call(
            "GET", f"/admin/v1/jobs/{job_id}/components", params={"study": self.study}
        )
        return list(reply["components"])

    @translate_errors
    def download_job_components(self, job_id: str) -> str:
        """Download the job's additional components; return their folder."""
        response = self._live()._request(
            "GET", f"/admin/v1/jobs/{job_id}/components.zip", params={"study": self.study}
        )
        folder = self.transfer_dir / f"{job_id}-components"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        with zipfile.ZipFile(BytesIO(response.content)) as zf:
            for name in zf.namelist():  # flat names made by the server; never a path
                if "/" not in name and "\\" not in name and not name.startswith("."):
                    (folder / name).write_bytes(zf.read(name))
        return str(folder)

    @translate_errors
    def get_available_apps_to_upload(self) -> list[str]:
        """Job folders in the kit's ``transfer/`` folder."""
        self._live()
        if not self.transfer_dir.is_dir():
            return []
        return sorted(p.name for p in self.transfer_dir.iterdir() if (p / "meta.json").is_file())

    # -- waiting --------------------------------------------------------------------------------
    @translate_errors
    def wait_for_job(
        self, job_id: str, timeout: float = 0.0, poll_interval: float = 2.0
    ) -> dict[str, Any]:
        """Wait until the job ends; return its meta."""
        _check_wait(timeout, poll_interval)
        record = self._live().wait_job(
            job_id, timeout=timeout, study=self.study, poll=poll_interval
        )
        return _meta(record)

    @translate_errors
    def monitor_job_and_return_job_meta(
        self,
        job_id: str,
        timeout: float = 0.0,
        poll_interval: float = 2.0,
        cb: Any = None,
        *cb_args: Any,
        **cb_kwargs: Any,
    ) -> tuple[MonitorReturnCode, dict[str, Any] | None]:
        """Poll the job every ``poll_interval`` s, calling ``cb`` after each poll."""
        _check_wait(timeout, poll_interval)
        start = time.monotonic()
        while True:
            meta = self.get_job_meta(job_id)
            if cb is not None and not cb(self, job_id, meta, *cb_args, **cb_kwargs):
                return MonitorReturnCode.ENDED_BY_CB, meta
            if meta["status"] in JOB_TERMINAL:
                return MonitorReturnCode.JOB_FINISHED, meta
            if timeout and time.monotonic() - start >= timeout:
                return MonitorReturnCode.TIMEOUT, meta
            time.sleep(poll_interval)

    # -- job observation ------------------------------------------------------------------------
    @translate_errors
    def show_stats(
        self, job_id: str, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Stats of a job per target."""
        stats = self._live().job_stats(job_id, site="all", study=self.study)
        result: dict[str, Any] = {}
        if target_type in ("server", "all") and stats.server is not None:
            result["server"] = {"ServerRunner": stats.server.model_dump()}
        if target_type in ("client", "all"):
            for name in targets or sorted(stats.sites):
                if name not in stats.sites:
                    raise CohortError(
                        f"client {name!r} takes no part in job {job_id}",
                        code=ErrorCode.SITE_NOT_FOUND,
                    )
                result[name] = {"ClientRunner": stats.sites[name].model_dump()}
        if target_type not in ("server", "client", "all"):
            raise invalid(f"target_type must be server, client or all, not {target_type!r}")
        return result

    @translate_errors
    def show_errors(
        self, job_id: str, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Errors of a job per target."""
        if target_type not in ("server", "client", "all"):
            raise invalid(f"target_type must be server, client or all, not {target_type!r}")
        params: dict[str, Any] = {"study": self.study, "target_type": target_type}
        if targets:
            params["targets"] = targets
        result: dict[str, Any] = self._live().call(
            "GET", f"/admin/v1/jobs/{job_id}/errors", params=params
        )
        return result

    @translate_errors
    def reset_errors(self, job_id: str) -> None:
        """Clear the job's errors on every target."""
        self._live().call(
            "POST", f"/admin/v1/jobs/{job_id}/errors/reset", params={"study": self.study}
        )

    @translate_errors
    def configure_job_log(self, job_id: str, config: Any, target: str = "all") -> None:
        """Set a running job's log level or mode on "all", "server" or a site."""
        self._live().set_log_config(job_id, log_setting(config), site=target, study=self.study)

    # -- system ---------------------------------------------------------------------------------
    @translate_errors
    def get_system_info(self) -> SystemInfo:
        """The server, the connected clients and the running jobs."""
        api = self._live()
        info = api.system_info()
        clients = [
            ClientInfo(s["site"]["name"], s["site"]["last_seen"])
            for s in info["sites"]
            if s["connected"]
        ]
        running = api.list_jobs(study="all", status=[JobStatus.DISPATCHED, JobStatus.RUNNING])
        jobs = [JobInfo(r.job_id, r.name) for r in running]
        return SystemInfo(ServerInfo(info["status"], info["start_time"]), clients, jobs)

    @translate_errors
    def get_connected_client_list(self) -> list[ClientInfo]:
        """The connected clients."""
        return self.get_system_info().client_info

    @translate_errors
    def get_client_job_status(
        self, client_names: list[str] | None = None
    ) -> list[dict[str, Any]] | None:
        """Jobs running on the (given) connected clients; None when none is connected."""
        api = self._live()
        connected = [s["site"]["name"] for s in api.system_info()["sites"] if s["connected"]]
        names = [n for n in (client_names or connected) if n in connected]
        if not names:
            return None
        running = api.list_jobs(study="all", status=[JobStatus.DISPATCHED, JobStatus.RUNNING])
        return [
            {"client_name": name, "job_id": r.job_id, "app_name": r.name, "status": str(r.status)}
            for name in names
            for r in running
            if name in r.sites
        ]

    @translate_errors
    def set_timeout(self, value: float) -> None:
        """How long the server waits for clients' answers to this session's commands."""
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise invalid(f"timeout must be a positive number, not {value!r}")
        self.command_timeout = float(value)

    @translate_errors
    def unset_timeout(self) -> None:
        """Go back to the server's default command timeout."""
        self._live()
        self.command_timeout = None

    def close(self) -> None:
        """Close the session; later calls raise SessionClosed."""
        if not self.closed:
            self.closed = True
            self.api.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _check_wait(timeout: float, poll_interval: float) -> None:
    if timeout < 0:
        raise invalid(f"timeout must be 0 (never) or positive, not {timeout}")
    if poll_interval <= 0:
        raise invalid(f"poll_interval must be positive, not {poll_interval}")


@translate_errors
def new_secure_session(
    username: str,
    startup_kit_location: str,
    debug: bool = False,
    timeout: float = 10.0,
    *,
    study: str = DEFAULT_STUDY,
) -> Session:
    """Open a session with the admin startup kit at ``startup_kit_location``.

    Args:
        username: the admin's name; must be the kit's (else AuthenticationError).
        startup_kit_location: the admin kit folder (the one holding ``startup/``).
        debug: log each request (httpx's DEBUG logging).
        timeout: seconds to keep trying to reach the server before NoConnection; also the
            timeout of each request.
        study: the study every job call of the session works in.
    """
    kit = resolve_admin_kit(startup_kit=startup_kit_location)
    if kit.config.name != username:
        raise CohortError(
            f"the startup kit at {startup_kit_location} belongs to {kit.config.name!r}, "
            f"not {username!r}",
            code=ErrorCode.UNAUTHORIZED,
            hint="Pass the username the kit was provisioned for.",
        )
    if debug:
        logging.getLogger("httpx").setLevel(logging.DEBUG)
    api = AdminAPI(kit, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:  # log in: the server may still be starting
        try:
            api.system_info()
            return Session(api, study)
        except ConnectionFailed as exc:
            if time.monotonic() >= deadline or is_tls_refusal(exc):
                api.close()
                raise
            time.sleep(0.5)
        except CohortError:
            api.close()
            raise
