"""The module-level names of the session API spec (seed 000): exceptions, return types, enums.

Each exception keeps the constructor the spec shows (``CommandError(error_code, message, hint,
exit_code)``, ``SubmitTokenConflict(message, existing_job_id)``, ...). When the session raises
one for a server error it also sets ``code``, ``hint`` and ``details`` on it: the stable code
from :mod:`cohort.errors`, what to do, and the facts (ids, limits) for scripts.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohort.admin.spec import SessionSpec

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ClientInfo",
    "ClientsStillRunning",
    "CommandError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidJobDefinition",
    "InvalidTarget",
    "JobInfo",
    "JobNotDone",
    "JobNotFound",
    "JobNotRunning",
    "JobTimeout",
    "MonitorReturnCode",
    "NoClientsAvailable",
    "NoConnection",
    "NoReply",
    "ServerInfo",
    "SessionClosed",
    "SubmitTokenConflict",
    "SubmitTokenJobDeleted",
    "SystemInfo",
    "TargetType",
    "job_monitor_cb_signature",
]


class AuthenticationError(Exception):
    """The server did not accept the session's credentials (startup kit)."""

    def __init__(self, message: str = "", auth_code: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.auth_code = auth_code


class AuthorizationError(Exception):
    """The caller's role may not run this command."""


class ClientsStillRunning(Exception):
    """The command needs the clients stopped first."""


class CommandError(Exception):
    """A command failed for a reason the spec has no narrower class for.

    Args:
        error_code: the stable code (see :class:`cohort.errors.ErrorCode`).
        message: what went wrong.
        hint: what to do about it.
        exit_code: the CLI's exit code for this code.
    """

    def __init__(self, error_code: str, message: str = "", hint: str = "", exit_code: int = 1):
        super().__init__(f"{error_code}: {message}" if message else error_code)
        self.error_code = error_code
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


class InternalError(Exception):
    """The server failed unexpectedly, or answered something the session cannot read."""


class InvalidArgumentError(Exception):
    """An argument was refused (bad value, wrong combination, unsafe path)."""


class InvalidJobDefinition(Exception):
    """The job folder was refused (meta.json, apps, size)."""


class InvalidTarget(Exception):
    """The target is not "server", "client", "all", or a known site."""


class JobNotDone(Exception):
    """The job has not ended yet (e.g. its result cannot be downloaded)."""


class JobNotFound(Exception):
    """No job with that id (in the session's study)."""


class JobNotRunning(Exception):
    """The job is not running (e.g. its logging cannot be changed)."""


class JobTimeout(Exception):
    """The job did not end within the given timeout."""


class NoClientsAvailable(Exception):
    """No (or not enough) clients are connected for the command."""


class NoConnection(ConnectionError):
    """The server could not be reached within the session's timeout."""


class NoReply(Exception):
    """A client did not answer the command within the session's command timeout."""


class SessionClosed(Exception):
    """The session was closed; open a new one."""


class SubmitTokenConflict(Exception):
    """The submit token was already used with different job content."""

    def __init__(self, message: str, existing_job_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing_job_id = existing_job_id


class SubmitTokenJobDeleted(Exception):
    """The job the submit token created was deleted; use a new token."""

    def __init__(
        self,
        message: str,
        job_id: str | None = None,
        state: str | None = None,
        deleted_time: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.job_id = job_id
        self.state = state
        self.deleted_time = deleted_time


class MonitorReturnCode(int, Enum):
    """Why :meth:`~cohort.admin.Session.monitor_job` returned."""

    JOB_FINISHED = 0
    TIMEOUT = 1
    ENDED_BY_CB = 2


class TargetType:
    """Targets of the system commands."""

    ALL = "all"
    CLIENT = "client"
    SERVER = "server"


class ClientInfo:
    """A connected client (site) and when it was last heard from (POSIX seconds)."""

    def __init__(self, name: str, last_connect_time: float) -> None:
        self.name = name
        self.last_connect_time = last_connect_time

    def __repr__(self) -> str:
        return f"ClientInfo(name={self.name!r}, last_connect_time={self.last_connect_time!r})"


class JobInfo:
    """A running job."""

    def __init__(self, job_id: str, app_name: str) -> None:
        self.job_id = job_id
        self.app_name = app_name

    def __repr__(self) -> str:
        return f"JobInfo(job_id={self.job_id!r}, app_name={self.app_name!r})"


class ServerInfo:
    """The server's status ("started") and start time (POSIX seconds)."""

    def __init__(self, status: str, start_time: float) -> None:
        self.status = status
        self.start_time = start_time

    def __repr__(self) -> str:
        return f"ServerInfo(status={self.status!r}, start_time={self.start_time!r})"


class SystemInfo:
    """The server, the connected clients and the running jobs."""

    def __init__(
        self, server_info: ServerInfo, client_info: list[ClientInfo], job_info: list[JobInfo]
    ) -> None:
        self.server_info = server_info
        self.client_info = client_info
        self.job_info = job_info

    def __repr__(self) -> str:
        return (
            f"SystemInfo(server_info={self.server_info!r}, client_info={self.client_info!r}, "
            f"job_info={self.job_info!r})"
        )


def job_monitor_cb_signature(
    session: SessionSpec, job_id: str, job_meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    """The signature of a ``monitor_job`` callback; returning False ends the monitoring.

    Args:
        session: the session
        job_id: ID of the job being monitored
        job_meta: meta info of the job
        *args: the ``cb_args`` given to ``monitor_job``
        **kwargs: the ``cb_kwargs`` given to ``monitor_job``
    """
    return True
