"""What the state store holds: jobs, sites, rounds (the model trail), tasks, updates and
submit-token records.

These are the store's return types and, as they are, the admin API's response bodies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cohort.states import JobStatus, TaskStatus

__all__ = [
    "SUBMIT_TOKEN_ACTIVE",
    "SUBMIT_TOKEN_JOB_DELETED",
    "ApiTokenRecord",
    "JobRecord",
    "RoundRecord",
    "SiteRecord",
    "SubmitTokenRecord",
    "TaskRecord",
    "UpdateRecord",
]

#: State of a submit-token record whose job exists.
SUBMIT_TOKEN_ACTIVE = "active"  # noqa: S105 - a state name, not a secret
#: State of a submit-token record whose job was deleted (the record outlives the job).
SUBMIT_TOKEN_JOB_DELETED = "job_deleted"  # noqa: S105


class JobRecord(BaseModel):
    """One job: its submitted meta, where it stands, and what went wrong."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    name: str
    study: str = "default"
    submitter: str
    submitter_org: str = Field(default="", description="The submitter's org (certificate O).")
    submitter_role: str = Field(default="", description="The submitter's role (certificate OU).")
    status: JobStatus
    meta: dict[str, Any] = Field(description="The job's meta.json as submitted.")
    job_sha256: str = Field(description="Checksum of the stored job folder archive.")
    submit_time: float
    start_time: float | None = None
    end_time: float | None = None
    status_reason: str = Field(
        default="", description="Why the job is where it is (waiting for sites, the failure)."
    )
    current_round: int | None = None
    total_rounds: int | None = None
    site_errors: list[dict[str, Any]] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list, description="Sites the job was dispatched to.")
    version: int = Field(default=1, description="Bumped by every change; waiters compare it.")


class SiteRecord(BaseModel):
    """One site (client) known to the server."""

    model_config = ConfigDict(frozen=True)

    name: str
    org: str = ""
    enabled: bool = True
    first_seen: float
    last_seen: float


class RoundRecord(BaseModel):
    """One round's global model: an entry of the model trail."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    round: int
    model_path: str = Field(description="Artifact-store path of the global model (safetensors).")
    model_sha256: str
    num_updates: int
    num_samples: int
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Sites' evaluation of this global model."
    )
    created: float


class TaskRecord(BaseModel):
    """One task for one site."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    job_id: str
    site: str
    name: str
    round: int
    status: TaskStatus
    model_path: str = Field(description="Artifact-store path of the model the task carries.")
    created: float
    deadline: float
    meta: dict[str, Any] = Field(default_factory=dict)


class UpdateRecord(BaseModel):
    """A site's result for a task, stored before it is acknowledged."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    job_id: str
    site: str
    round: int
    path: str = Field(description="Artifact-store path of the update (safetensors).")
    sha256: str
    num_samples: int
    metrics: dict[str, float] = Field(default_factory=dict)
    received: float


class SubmitTokenRecord(BaseModel):
    """A retry-safe submit: which job a caller's token created, and whether it still exists.

    Scope is (study, submitter, token). Server-owned: never written to the job's meta.json.
    """

    model_config = ConfigDict(frozen=True)

    study: str
    submitter: str
    token: str
    content_sha256: str = Field(description="Hash of the job content the token was used with.")
    job_id: str
    state: str = Field(description='"active", or "job_deleted" once the job was deleted.')
    created: float
    deleted_time: float | None = None


class ApiTokenRecord(BaseModel):
    """A Bearer API key of the REST API, as stored: never the key, only its secret's SHA-256.

    The key a caller sends is ``cohort_<token_id>_<secret>``; ``token_id`` finds the row, the
    secret's hash proves the caller holds it.
    """

    model_config = ConfigDict(frozen=True)

    token_id: str
    name: str = Field(description="What the key is for (free text, shown in listings).")
    role: str = Field(description="The role the key acts with (see cohort.server.rest.auth).")
    secret_sha256: str = Field(
        default="", exclude=True, description="SHA-256 of the key's secret (never sent)."
    )
    created_by: str
    created: float
    expires: float | None = Field(default=None, description="POSIX seconds; None: never.")
    revoked: float | None = Field(default=None, description="When it was revoked, if it was.")
