"""Wire types of the REST API v1 (``/api/v1``, seed 003): requests and responses.

Field names and shapes are the seed's. Where Cohort knows more than the seed shows, extra fields
are added (never renamed); where it cannot know a value (e.g. an estimate it does not make),
the field is null rather than invented.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cohort.schemas.job import MAX_SITES
from cohort.schemas.policy import JobPolicies, ResourceRequirements, UpdateValidation

__all__ = [
    "ID_PATTERN",
    "AggregationConfig",
    "ClientDetail",
    "ClientList",
    "ClientPerformance",
    "ClientRegistration",
    "ClientSelection",
    "ClientSummary",
    "CreateExperiment",
    "DatasetConfig",
    "ErrorBody",
    "ErrorEnvelope",
    "ExperimentConfig",
    "ExperimentCreated",
    "ExperimentList",
    "ExperimentSummary",
    "GlobalModel",
    "Health",
    "PolicyConfig",
    "RegisterClient",
    "RejectedUpdate",
    "RoundEntry",
    "RoundMetrics",
    "ServerStatus",
    "StartTraining",
    "StopTraining",
    "TrainingConfig",
    "TrainingMetrics",
    "TrainingStarted",
    "TrainingStatus",
    "TrainingStopped",
    "UpdateReceived",
    "ValidationReport",
]

#: Ids a caller may choose (client ids, experiment ids): safe in paths and file names.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"


class ErrorBody(BaseModel):
    """What went wrong: a stable code from cohort.errors, words, what to do, and facts."""

    code: str = Field(description="A code of cohort.errors.ErrorCode, e.g. INVALID_REQUEST.")
    message: str
    hint: str = ""
    details: Any = Field(default_factory=dict)
    timestamp: str


class ErrorEnvelope(BaseModel):
    """Every error response of the API."""

    error: ErrorBody


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """A free-form section of a request: known fields are checked, others are kept."""

    model_config = ConfigDict(extra="allow")


class ServerStatus(BaseModel):
    """GET /status."""

    status: Literal["running", "idle"]
    version: str
    current_round: int | None
    total_rounds: int | None
    active_clients: int
    registered_clients: int
    experiment_id: str | None
    model_config_: dict[str, Any] = Field(alias="model_config", serialization_alias="model_config")
    training_config: dict[str, Any]
    timestamp: str

    model_config = ConfigDict(populate_by_name=True)


class Health(BaseModel):
    """GET /health."""

    status: Literal["healthy"]
    timestamp: str
    uptime: int = Field(description="Seconds since the server started.")
    memory_usage: str = Field(description="Resident memory of the server process, e.g. 512MB.")
    cpu_usage: str = Field(description="CPU time of the server process over its uptime, e.g. 3%.")


class RegisterClient(_Request):
    """POST /clients/register."""

    client_id: str = Field(pattern=ID_PATTERN)
    client_config: dict[str, Any] = Field(default_factory=dict)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    location: dict[str, Any] = Field(default_factory=dict)


class ClientRegistration(BaseModel):
    """Reply to a registration (also the stored registration)."""

    client_id: str
    registration_id: str
    status: Literal["registered"]
    assigned_round: int | None
    client_config: dict[str, Any]
    capabilities: dict[str, Any] = Field(default_factory=dict)
    location: dict[str, Any] = Field(default_factory=dict)
    timestamp: str


class ClientDetail(BaseModel):
    """GET /clients/{client_id}."""

    client_id: str
    status: Literal["active", "inactive", "registered"]
    current_round: int | None
    last_update: str | None
    performance_metrics: dict[str, float]
    trust_score: float
    contribution_score: float


class ClientSummary(BaseModel):
    """One entry of GET /clients."""

    client_id: str
    status: Literal["active", "inactive", "registered"]
    current_round: int | None
    trust_score: float


class ClientList(BaseModel):
    """GET /clients."""

    clients: list[ClientSummary]
    total_count: int
    active_count: int
    timestamp: str


class ClientSelection(BaseModel):
    """GET /clients/select."""

    round: int | None
    selected_clients: list[str]
    policy_results: dict[str, dict[str, Any]]
    excluded_clients: list[str]
    exclusion_reasons: dict[str, str]


class ExperimentConfig(_Open):
    """The ``experiment_config`` of POST /training/start."""

    experiment_id: str | None = Field(default=None, pattern=ID_PATTERN)
    rounds: int | None = Field(default=None, ge=1, le=10_000)
    min_clients: int | None = Field(default=None, ge=1, le=MAX_SITES)
    client_fraction: float | None = Field(default=None, gt=0, le=1)
    dataset: str | None = None
    model_architecture: str | None = None


class TrainingConfig(_Open):
    """``training_config`` of POST /training/start and POST /experiments."""

    rounds: int | None = Field(default=None, ge=1, le=10_000)
    local_epochs: int | None = Field(default=None, ge=1, le=10_000)
    batch_size: int | None = Field(default=None, ge=1)
    learning_rate: float | None = Field(default=None, gt=0, le=100)
    optimizer: str | None = None


class AggregationConfig(_Open):
    """``aggregation_config`` of POST /training/start."""

    strategy: str = "FedAvg"
    weighted: bool = True
    min_updates: int | None = Field(default=None, ge=1, le=MAX_SITES)


class StartTraining(_Request):
    """POST /training/start: start a created experiment (by id) or a new one from configs."""

    experiment_config: ExperimentConfig = Field(default_factory=ExperimentConfig)
    training_config: TrainingConfig = Field(default_factory=TrainingConfig)
    aggregation_config: AggregationConfig = Field(default_factory=AggregationConfig)


class TrainingStarted(BaseModel):
    """Reply to POST /training/start."""

    experiment_id: str
    status: Literal["started"]
    start_time: str
    total_rounds: int
    current_round: int
    selected_clients: list[str]
    estimated_duration: str | None


class StopTraining(_Request):
    """POST /training/stop."""

    experiment_id: str | None = Field(default=None, pattern=ID_PATTERN)
    reason: str = Field(default="manual_stop", max_length=500)


class TrainingStopped(BaseModel):
    """Reply to POST /training/stop."""

    experiment_id: str
    status: str
    reason: str
    timestamp: str


class RoundMetrics(BaseModel):
    """``round_metrics`` of GET /training/status: the latest round with metrics."""

    accuracy: float | None
    loss: float | None
    round_duration: float | None
    participating_clients: int


class RejectedUpdate(BaseModel):
    """An update the job's validation refused (docs/policies.md)."""

    client_id: str
    round: int
    reason: str


class TrainingStatus(BaseModel):
    """GET /training/status."""

    experiment_id: str | None
    status: str
    job_status: str | None = Field(description="The job's own status (states.JobStatus).")
    current_round: int | None
    total_rounds: int | None
    progress: float
    start_time: str | None
    estimated_completion: str | None
    selected_clients: list[str]
    round_metrics: RoundMetrics | None
    rejected_updates: list[RejectedUpdate] = Field(
        default_factory=list,
        description="Updates refused before aggregation by the job's update validation.",
    )


class GlobalModel(BaseModel):
    """GET /model/global."""

    model_id: str
    experiment_id: str
    round: int
    accuracy: float | None
    loss: float | None
    parameters_count: int
    model_size_mb: float
    format: str
    sha256: str
    created_at: str
    download_url: str


class UpdateReceived(BaseModel):
    """Reply to POST /model/update/{client_id}."""

    update_id: str
    client_id: str
    round: int
    status: Literal["received", "duplicate"]
    model_size_mb: float
    received_at: str
    validation_status: str = Field(
        description='"pending": the values are validated before aggregation '
        "(policies.update_validation); a refusal shows in the experiment's site errors."
    )


class ValidationReport(BaseModel):
    """Reply to POST /model/validate/{client_id}."""

    client_id: str
    experiment_id: str
    round: int
    valid: bool
    checks: dict[str, bool]
    errors: list[str]
    timestamp: str


class RoundEntry(BaseModel):
    """One round of GET /metrics/training."""

    round: int
    global_accuracy: float | None
    global_loss: float | None
    participating_clients: int
    round_duration: float | None
    aggregation_time: float | None
    client_metrics: dict[str, dict[str, float]]


class TrainingMetrics(BaseModel):
    """GET /metrics/training."""

    experiment_id: str
    rounds: list[RoundEntry]
    summary: dict[str, float | int | None]


class ClientPerformance(BaseModel):
    """GET /metrics/clients/{client_id}."""

    client_id: str
    performance_history: list[dict[str, Any]]
    statistics: dict[str, float | int | None]


class DatasetConfig(_Open):
    """``dataset_config`` of POST /experiments."""

    name: str = "breast_cancer"
    split_strategy: str = "iid"
    clients_count: int | None = Field(default=None, ge=1, le=10_000)


class PolicyConfig(_Open):
    """``policy_config`` of POST /experiments."""

    min_clients: int | None = Field(default=None, ge=1, le=MAX_SITES)
    max_client_failures: int | None = Field(default=None, ge=0)
    trust_threshold: float = Field(default=0.0, ge=0, le=1)
    update_validation: UpdateValidation = Field(
        default_factory=UpdateValidation,
        description="Checks each update passes before aggregation (docs/policies.md).",
    )
    resource_requirements: ResourceRequirements = Field(
        default_factory=ResourceRequirements,
        description="What a client's host must report to be selected (docs/policies.md).",
    )

    def job_policies(self) -> JobPolicies:
        """The job's ``policies`` this config asks for."""
        return JobPolicies(
            trust_threshold=self.trust_threshold,
            update_validation=self.update_validation,
            resource_requirements=self.resource_requirements,
        )


class CreateExperiment(_Request):
    """POST /experiments."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    experiment_id: str | None = Field(default=None, pattern=ID_PATTERN)
    recipe: str = Field(default="fedavg", description="A built-in recipe (cohort recipe list).")
    dataset_config: DatasetConfig = Field(default_factory=DatasetConfig)
    model_config_: dict[str, Any] = Field(
        default_factory=dict, alias="model_config", serialization_alias="model_config"
    )
    training_config: TrainingConfig = Field(default_factory=TrainingConfig)
    policy_config: PolicyConfig = Field(default_factory=PolicyConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExperimentCreated(BaseModel):
    """Reply to POST /experiments."""

    experiment_id: str
    name: str
    status: Literal["created"]
    created_at: str
    estimated_duration: str | None
    resource_requirements: dict[str, Any]


class ExperimentSummary(BaseModel):
    """One entry of GET /experiments."""

    experiment_id: str
    name: str
    status: Literal["created", "running", "completed", "failed"]
    job_status: str | None
    created_at: str
    progress: float


class ExperimentList(BaseModel):
    """GET /experiments."""

    experiments: list[ExperimentSummary]
    total_count: int
    has_more: bool
