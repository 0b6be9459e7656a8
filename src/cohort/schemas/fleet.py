"""Messages between a site (agent or job process) and the server's fleet API."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BODY_SHA256_HEADER",
    "DEFAULT_CHUNK_BYTES",
    "LOG_STREAM_HEADER",
    "LOG_STREAM_OFF",
    "MODEL_CHUNKED_HEADER",
    "MODEL_SHA256_HEADER",
    "MODEL_SIZE_HEADER",
    "SITES_HEADER",
    "SUBMITTER_HEADER",
    "TASK_HEADER",
    "CommandResult",
    "HeartbeatReply",
    "HeartbeatRequest",
    "LogSetting",
    "SiteCapacity",
    "SiteCommand",
    "SiteFailureReport",
    "TaskHeader",
    "UpdateReceipt",
    "chunk_bytes_from_env",
]


#: HTTP response header carrying a task's :class:`TaskHeader` next to the model bytes.
TASK_HEADER = "X-Cohort-Task"
#: HTTP headers of model transfers (server/services/transfer.py): a task's model size and
#: sha256, whether it must be fetched in chunks, and the sha256 of an uploaded body or chunk.
MODEL_SIZE_HEADER = "X-Cohort-Model-Size"
MODEL_SHA256_HEADER = "X-Cohort-Model-Sha256"
MODEL_CHUNKED_HEADER = "X-Cohort-Model-Chunked"
BODY_SHA256_HEADER = "X-Cohort-Sha256"
#: Transfer chunk size when ``COHORT_TRANSFER_CHUNK_BYTES`` is not set: a model up to this
#: size moves in one request; larger ones in chunks of this size.
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024


def chunk_bytes_from_env() -> int:
    """The chunk size from ``COHORT_TRANSFER_CHUNK_BYTES`` (bytes), else the default. Sites
    send theirs with each request; the server uses its own to hash a new global model's
    chunks before any site asks."""
    raw = os.environ.get("COHORT_TRANSFER_CHUNK_BYTES")
    return int(raw) if raw else DEFAULT_CHUNK_BYTES


#: HTTP response header of the job app download naming every site of the job.
SITES_HEADER = "X-Cohort-Job-Sites"
#: HTTP response header of the job app download: the file the site streams its job log as
#: ("log.txt" or "log.json"), or :data:`LOG_STREAM_OFF` (see server/services/logstore.py).
LOG_STREAM_HEADER = "X-Cohort-Log-Stream"
LOG_STREAM_OFF = "off"

#: HTTP response header of the job app download: the submitter as "name,org,role", for the
#: site's own policy (cohort.site.policy).
SUBMITTER_HEADER = "X-Cohort-Job-Submitter"


class SiteCapacity(BaseModel):
    """What a site's host offers (``cohort.hostinfo.capacity``), as its heartbeat reports it."""

    model_config = ConfigDict(extra="forbid")

    cpu_count: int = Field(ge=0, le=1_000_000)
    memory_total: int = Field(ge=0, description="Bytes.")
    gpu_count: int = Field(default=0, ge=0, le=100_000)


class HeartbeatRequest(BaseModel):
    """Sent by a site agent every heartbeat interval."""

    model_config = ConfigDict(extra="forbid")

    running_jobs: list[str] = Field(default_factory=list, max_length=10_000)
    capacity: SiteCapacity | None = Field(
        default=None, description="The site's host, for resource policies (None: not told)."
    )


class LogSetting(BaseModel):
    """The logging a job's process should use (``job log-config``); None leaves a part alone.

    ``version`` grows with every change, so a process applies each request once.
    """

    level: str | None = None
    mode: str | None = None
    #: From a dictConfig: levels of named loggers, and the line format (wins over ``mode``).
    loggers: dict[str, str] = Field(default_factory=dict)
    format: str | None = None
    version: int = 0


class SiteCommand(BaseModel):
    """An admin command relayed to a site with its heartbeat reply (``ls``, ``info``, ...)."""

    command_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class CommandResult(BaseModel):
    """A site's answer to a :class:`SiteCommand`: its output, or the error it raised."""

    model_config = ConfigDict(extra="forbid")

    output: Any = None
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str = Field(default="", max_length=4_000)


class HeartbeatReply(BaseModel):
    """What the server wants the site to do: start these jobs, stop those, remove the
    workspaces of deleted jobs, the log settings of its running jobs, admin commands to run,
    and whether to shut down."""

    start_jobs: list[str] = Field(default_factory=list)
    abort_jobs: list[str] = Field(default_factory=list)
    delete_jobs: list[str] = Field(default_factory=list)
    log_config: dict[str, LogSetting] = Field(default_factory=dict)
    commands: list[SiteCommand] = Field(default_factory=list)
    shutdown: bool = False
    heartbeat_interval: float


class TaskHeader(BaseModel):
    """Describes one task; travels in the safetensors metadata of the task payload."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    job_id: str
    site: str
    name: str = Field(description="train, validate, or submit_model")
    current_round: int = Field(ge=0)
    total_rounds: int = Field(ge=0)
    meta: dict[str, Any] = Field(default_factory=dict)


class UpdateReceipt(BaseModel):
    """The server's answer to an uploaded update."""

    task_id: str
    accepted: bool
    duplicate: bool = False
    sha256: str


class SiteFailureReport(BaseModel):
    """Sent by a site agent when a job's client process fails."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(max_length=4_000)
    traceback_tail: str = Field(default="", max_length=20_000)
    exit_code: int | None = None
    stopped: bool = Field(
        default=False,
        description="The server stopped the script (job over, aborted, deleted): not a failure, "
        "only word that the site's streamed log is complete.",
    )
