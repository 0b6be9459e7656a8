"""The one table of error codes and the exception tree built on it.

Every failure that crosses an API carries a stable :class:`ErrorCode`. The same code is the REST
``error.code``, the CLI ``error_code`` with its exit code, and the attribute of the exception the
Python clients raise, so a failure reads the same on every face::

    CohortError                    code, message, hint, details
    ├── InvalidRequest             400  INVALID_REQUEST, INVALID_JOB_DEFINITION, ...
    ├── AuthenticationFailed       401  UNAUTHORIZED
    ├── NotAuthorized              403  NOT_AUTHORIZED, FORBIDDEN
    ├── NotFound                   404  NOT_FOUND, JOB_NOT_FOUND, TASK_NOT_FOUND, ...
    ├── Conflict                   409  CONFLICT, JOB_NOT_DONE, SUBMIT_TOKEN_CONFLICT, ...
    ├── PayloadTooLarge            413  PAYLOAD_TOO_LARGE, JOB_TOO_LARGE
    ├── RateLimited                429  RATE_LIMITED
    ├── ServiceUnavailable         503  SERVICE_UNAVAILABLE
    ├── InternalError              500  INTERNAL_ERROR
    ├── ConnectionFailed           --   NO_CONNECTION, STARTUP_KIT_MISSING (raised by clients)
    ├── Timeout                    --   TIMEOUT (raised by clients waiting on a deadline)
    └── JobFailed                  --   JOB_FAILED (a waited-for job ended in a failure status)

The session API (``cohort.admin``) raises the exception class its spec names for each code
(``CodeSpec.session``: JOB_NOT_FOUND -> ``JobNotFound``, UNAUTHORIZED -> ``AuthenticationError``,
and ``CommandError`` for codes the spec has no class for).

Exit codes of the CLI (the job command line's): 0 ok, 1 the job reached a terminal failure
status, 2 connection, authentication or authorization failure (no usable startup kit
included), 3 timeout, 4 the request or its arguments were refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "CohortError",
    "Conflict",
    "ConnectionFailed",
    "ErrorCode",
    "InternalError",
    "InvalidRequest",
    "JobFailed",
    "NotAuthorized",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Timeout",
    "error_from_envelope",
    "spec_for",
]


class ErrorCode(StrEnum):
    """Stable error codes. Never rename one: scripts match on them."""

    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_ARGS = "INVALID_ARGS"
    INVALID_STUDY_NAME = "INVALID_STUDY_NAME"
    LOG_CONFIG_INVALID = "LOG_CONFIG_INVALID"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    COMMAND_DEPRECATED = "COMMAND_DEPRECATED"
    OUTPUT_DIR_EXISTS = "OUTPUT_DIR_EXISTS"
    INVALID_JOB_DEFINITION = "INVALID_JOB_DEFINITION"
    JOB_META_MISSING = "JOB_META_MISSING"
    JOB_META_INVALID = "JOB_META_INVALID"
    UNKNOWN_WORKFLOW = "UNKNOWN_WORKFLOW"
    DEPLOY_MAP_INVALID = "DEPLOY_MAP_INVALID"
    UNSAFE_PATH = "UNSAFE_PATH"
    PAYLOAD_INVALID = "PAYLOAD_INVALID"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    MODEL_VALIDATION_FAILED = "MODEL_VALIDATION_FAILED"
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_AUTHORIZED = "NOT_AUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    SITE_NOT_FOUND = "SITE_NOT_FOUND"
    STUDY_NOT_FOUND = "STUDY_NOT_FOUND"
    LOG_NOT_FOUND = "LOG_NOT_FOUND"
    RECIPE_NOT_FOUND = "RECIPE_NOT_FOUND"
    CLIENT_NOT_REGISTERED = "CLIENT_NOT_REGISTERED"
    CONFLICT = "CONFLICT"
    JOB_NOT_DONE = "JOB_NOT_DONE"
    JOB_NOT_RUNNING = "JOB_NOT_RUNNING"
    TASK_NOT_ACTIVE = "TASK_NOT_ACTIVE"
    ROUND_NOT_ACTIVE = "ROUND_NOT_ACTIVE"
    EXPERIMENT_NOT_ACTIVE = "EXPERIMENT_NOT_ACTIVE"
    INSUFFICIENT_CLIENTS = "INSUFFICIENT_CLIENTS"
    TRAINING_ALREADY_RUNNING = "TRAINING_ALREADY_RUNNING"
    SUBMIT_TOKEN_CONFLICT = "SUBMIT_TOKEN_CONFLICT"  # noqa: S105 - an error code, not a secret
    SUBMIT_TOKEN_JOB_DELETED = "SUBMIT_TOKEN_JOB_DELETED"  # noqa: S105
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    JOB_TOO_LARGE = "JOB_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    NO_CONNECTION = "NO_CONNECTION"
    STARTUP_KIT_MISSING = "STARTUP_KIT_MISSING"
    TIMEOUT = "TIMEOUT"
    JOB_FAILED = "JOB_FAILED"
    NO_REPLY = "NO_REPLY"
    SESSION_CLOSED = "SESSION_CLOSED"


@dataclass(frozen=True)
class CodeSpec:
    """How one error code shows on each face."""

    http_status: int  # 0: never sent by the server
    exit_code: (
        int  # the CLI's exit code (0 ok, 1 job failed, 2 connection/auth, 3 timeout, 4 request)
    )
    family: type[CohortError]
    #: The exception class of the session API (``cohort.admin``) this code raises there.
    session: str = "CommandError"


class CohortError(Exception):
    """Base of every error Cohort raises on purpose.

    Args:
        message: what went wrong, in words a person can act on.
        code: the stable code; defaults to the family's first code.
        hint: what to do about it, when there is something to do.
        details: JSON-able facts for scripts (ids, limits, the offending field).
    """

    default_code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        code: ErrorCode | str | None = None,
        hint: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code) if code is not None else self.default_code
        self.hint = hint
        self.details: dict[str, Any] = details or {}

    @property
    def http_status(self) -> int:
        """The HTTP status the server answers this error with."""
        return spec_for(self.code).http_status

    @property
    def exit_code(self) -> int:
        """The exit code the CLI ends with on this error."""
        return spec_for(self.code).exit_code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(CohortError):
    """The request is malformed or names something invalid."""

    default_code = ErrorCode.INVALID_REQUEST


class AuthenticationFailed(CohortError):
    """The caller could not be identified (no or wrong certificate or token)."""

    default_code = ErrorCode.UNAUTHORIZED


class NotAuthorized(CohortError):
    """The caller is known but may not do this."""

    default_code = ErrorCode.NOT_AUTHORIZED


class NotFound(CohortError):
    """The named job, task, site or resource does not exist."""

    default_code = ErrorCode.NOT_FOUND


class Conflict(CohortError):
    """The request clashes with the current state (job not done, token reused, ...)."""

    default_code = ErrorCode.CONFLICT


class PayloadTooLarge(CohortError):
    """An upload is over the configured limit."""

    default_code = ErrorCode.PAYLOAD_TOO_LARGE


class RateLimited(CohortError):
    """Too many requests from one caller."""

    default_code = ErrorCode.RATE_LIMITED


class ServiceUnavailable(CohortError):
    """The server is starting, stopping, or overloaded; retry later."""

    default_code = ErrorCode.SERVICE_UNAVAILABLE


class InternalError(CohortError):
    """A bug or an unexpected failure on the server."""

    default_code = ErrorCode.INTERNAL_ERROR


class ConnectionFailed(CohortError):
    """The server could not be reached (raised by clients)."""

    default_code = ErrorCode.NO_CONNECTION


class Timeout(CohortError):
    """A client-side wait passed its deadline."""

    default_code = ErrorCode.TIMEOUT


class JobFailed(CohortError):
    """A job a client waited for ended FAILED, FINISHED_EXCEPTION, ABORTED or ABANDONED."""

    default_code = ErrorCode.JOB_FAILED


_C = ErrorCode
_TABLE: dict[ErrorCode, CodeSpec] = {
    _C.INVALID_REQUEST: CodeSpec(400, 4, InvalidRequest, "InvalidArgumentError"),
    _C.INVALID_ARGS: CodeSpec(400, 4, InvalidRequest, "InvalidArgumentError"),
    _C.INVALID_STUDY_NAME: CodeSpec(400, 4, InvalidRequest, "InvalidArgumentError"),
    _C.LOG_CONFIG_INVALID: CodeSpec(400, 4, InvalidRequest, "InvalidArgumentError"),
    _C.CONFIRMATION_REQUIRED: CodeSpec(0, 4, InvalidRequest),
    _C.COMMAND_DEPRECATED: CodeSpec(0, 4, InvalidRequest),
    _C.OUTPUT_DIR_EXISTS: CodeSpec(0, 4, Conflict),
    _C.INVALID_JOB_DEFINITION: CodeSpec(400, 4, InvalidRequest, "InvalidJobDefinition"),
    _C.JOB_META_MISSING: CodeSpec(400, 4, InvalidRequest, "InvalidJobDefinition"),
    _C.JOB_META_INVALID: CodeSpec(400, 4, InvalidRequest, "InvalidJobDefinition"),
    _C.UNKNOWN_WORKFLOW: CodeSpec(400, 4, InvalidRequest, "InvalidJobDefinition"),
    _C.DEPLOY_MAP_INVALID: CodeSpec(400, 4, InvalidRequest, "InvalidJobDefinition"),
    _C.UNSAFE_PATH: CodeSpec(400, 4, InvalidRequest, "InvalidArgumentError"),
    _C.PAYLOAD_INVALID: CodeSpec(400, 4, InvalidRequest),
    _C.CHECKSUM_MISMATCH: CodeSpec(400, 4, InvalidRequest),
    _C.MODEL_VALIDATION_FAILED: CodeSpec(422, 4, InvalidRequest),
    _C.UNAUTHORIZED: CodeSpec(401, 2, AuthenticationFailed, "AuthenticationError"),
    _C.NOT_AUTHORIZED: CodeSpec(403, 2, NotAuthorized, "AuthorizationError"),
    _C.FORBIDDEN: CodeSpec(403, 2, NotAuthorized, "AuthorizationError"),  # REST: a refused role
    _C.NOT_FOUND: CodeSpec(404, 4, NotFound),
    _C.JOB_NOT_FOUND: CodeSpec(404, 4, NotFound, "JobNotFound"),
    _C.TASK_NOT_FOUND: CodeSpec(404, 4, NotFound),
    _C.SITE_NOT_FOUND: CodeSpec(404, 4, NotFound, "InvalidTarget"),
    _C.STUDY_NOT_FOUND: CodeSpec(404, 4, NotFound),
    _C.LOG_NOT_FOUND: CodeSpec(404, 4, NotFound),
    _C.RECIPE_NOT_FOUND: CodeSpec(0, 4, NotFound),
    _C.CLIENT_NOT_REGISTERED: CodeSpec(404, 4, NotFound, "InvalidTarget"),
    _C.CONFLICT: CodeSpec(409, 4, Conflict),
    _C.JOB_NOT_DONE: CodeSpec(409, 4, Conflict, "JobNotDone"),
    _C.JOB_NOT_RUNNING: CodeSpec(409, 4, Conflict, "JobNotRunning"),
    _C.TASK_NOT_ACTIVE: CodeSpec(409, 4, Conflict),
    _C.ROUND_NOT_ACTIVE: CodeSpec(409, 4, Conflict),
    _C.EXPERIMENT_NOT_ACTIVE: CodeSpec(409, 4, Conflict),
    _C.INSUFFICIENT_CLIENTS: CodeSpec(409, 4, Conflict, "NoClientsAvailable"),
    _C.TRAINING_ALREADY_RUNNING: CodeSpec(409, 4, Conflict),
    _C.SUBMIT_TOKEN_CONFLICT: CodeSpec(409, 4, Conflict, "SubmitTokenConflict"),
    _C.SUBMIT_TOKEN_JOB_DELETED: CodeSpec(409, 4, Conflict, "SubmitTokenJobDeleted"),
    _C.PAYLOAD_TOO_LARGE: CodeSpec(413, 4, PayloadTooLarge),
    _C.JOB_TOO_LARGE: CodeSpec(413, 4, PayloadTooLarge, "InvalidJobDefinition"),
    _C.RATE_LIMITED: CodeSpec(429, 4, RateLimited),
    _C.INTERNAL_ERROR: CodeSpec(500, 1, InternalError, "InternalError"),
    _C.SERVICE_UNAVAILABLE: CodeSpec(503, 2, ServiceUnavailable, "NoConnection"),
    _C.NO_CONNECTION: CodeSpec(0, 2, ConnectionFailed, "NoConnection"),
    _C.STARTUP_KIT_MISSING: CodeSpec(0, 2, ConnectionFailed, "InvalidArgumentError"),
    _C.TIMEOUT: CodeSpec(0, 3, Timeout, "JobTimeout"),
    _C.JOB_FAILED: CodeSpec(0, 1, JobFailed),
    _C.NO_REPLY: CodeSpec(504, 2, ServiceUnavailable, "NoReply"),
    _C.SESSION_CLOSED: CodeSpec(0, 4, InvalidRequest, "SessionClosed"),
}


def spec_for(code: ErrorCode | str) -> CodeSpec:
    """Return how ``code`` shows on each face; unknown codes read as internal errors."""
    try:
        return _TABLE[ErrorCode(code)]
    except ValueError:
        return _TABLE[ErrorCode.INTERNAL_ERROR]


def error_from_envelope(payload: dict[str, Any]) -> CohortError:
    """Rebuild the exception a server error envelope (``{"error": {...}}``) stands for."""
    body = payload.get("error", payload)
    raw_code = str(body.get("code", ErrorCode.INTERNAL_ERROR))
    try:
        code = ErrorCode(raw_code)
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR
    family = spec_for(code).family
    details = body.get("details")
    return family(
        str(body.get("message", raw_code)),
        code=code,
        hint=str(body.get("hint", "")),
        details=details if isinstance(details, dict) else {},
    )
