"""The admin session API (seeds 000 and 001): ``new_secure_session`` and ``Session``.

A script written against the spec runs against Cohort with only its import line changed::

    from cohort.admin import new_secure_session

Every name the spec module defines is here: the exceptions (each failure raises one of
them), ``MonitorReturnCode``, ``TargetType``, ``ClientInfo``, ``JobInfo``, ``ServerInfo``,
``SystemInfo``, ``SessionSpec`` and ``job_monitor_cb_signature``. The lower-level HTTPS
client is :class:`cohort.admin.api.AdminAPI`.
"""

from __future__ import annotations

from cohort.admin.session import Session, new_secure_session
from cohort.admin.spec import SessionSpec
from cohort.admin.spec_types import (
    AuthenticationError,
    AuthorizationError,
    ClientInfo,
    ClientsStillRunning,
    CommandError,
    InternalError,
    InvalidArgumentError,
    InvalidJobDefinition,
    InvalidTarget,
    JobInfo,
    JobNotDone,
    JobNotFound,
    JobNotRunning,
    JobTimeout,
    MonitorReturnCode,
    NoClientsAvailable,
    NoConnection,
    NoReply,
    ServerInfo,
    SessionClosed,
    SubmitTokenConflict,
    SubmitTokenJobDeleted,
    SystemInfo,
    TargetType,
    job_monitor_cb_signature,
)

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
    "Session",
    "SessionClosed",
    "SessionSpec",
    "SubmitTokenConflict",
    "SubmitTokenJobDeleted",
    "SystemInfo",
    "TargetType",
    "job_monitor_cb_signature",
    "new_secure_session",
]
