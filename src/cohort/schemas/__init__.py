"""Pydantic types shared by the server, the site agent, the SDKs and the CLI (one copy of each)."""

from cohort.schemas.fleet import (
    HeartbeatReply,
    HeartbeatRequest,
    SiteFailureReport,
    TaskHeader,
    UpdateReceipt,
)
from cohort.schemas.job import (
    ClientAppConfig,
    JobMeta,
    ServerAppConfig,
    SiteError,
)
from cohort.schemas.records import (
    JobRecord,
    RoundRecord,
    SiteRecord,
    TaskRecord,
    UpdateRecord,
)

__all__ = [
    "ClientAppConfig",
    "HeartbeatReply",
    "HeartbeatRequest",
    "JobMeta",
    "JobRecord",
    "RoundRecord",
    "ServerAppConfig",
    "SiteError",
    "SiteFailureReport",
    "SiteRecord",
    "TaskHeader",
    "TaskRecord",
    "UpdateReceipt",
    "UpdateRecord",
]
