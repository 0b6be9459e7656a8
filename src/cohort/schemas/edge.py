"""Wire types of the edge API (seed 004, the ``scaleout`` client's REST dialect).

Entities keep the names the published client reads (``model_id``, ``session_id``,
``committed_at``, ``sender``...); lists answer ``{"count": N, "result": [...]}``. Field
names follow the dialect in ``reference/edge-rest-dialect.md``; values Cohort cannot know are
null rather than invented.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cohort.schemas.rest import ID_PATTERN

__all__ = [
    "AddAttribute",
    "AddStatus",
    "Attribute",
    "AttributeList",
    "CommandRecord",
    "ControllerStatus",
    "CurrentAttributes",
    "EdgeClient",
    "EdgeModel",
    "Listing",
    "NewSession",
    "Package",
    "Prediction",
    "RoundView",
    "RunCommand",
    "Sender",
    "SessionConfig",
    "SessionCreated",
    "SessionStart",
    "SessionView",
    "StartInference",
    "StartPredictions",
    "StartValidation",
    "StatusEntry",
    "StopSession",
    "TokenRefresh",
    "UploadInit",
    "Validation",
]

T = TypeVar("T")


class Listing(BaseModel, Generic[T]):
    """A page of a list endpoint: ``count`` is the total before paging."""

    count: int
    result: list[T]


class Sender(BaseModel):
    """Who sent a status, validation or attribute (a site is a ``client``)."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    role: str = ""
    client_id: str | None = None
    combiner_id: str | None = None


class ControllerStatus(BaseModel):
    """``GET /get_controller_status``."""

    state: Literal["idle", "instructing"]
    session_id: str | None = None
    connected_clients: int


class EdgeClient(BaseModel):
    """A site, as a client of the network."""

    client_id: str
    name: str
    status: Literal["online", "offline"]
    combiner: str
    package: str = "remote"
    last_seen: str
    first_seen: str


class EdgeModel(BaseModel):
    """A model of the trail: a round's global model or an uploaded seed model."""

    model_id: str
    model: str = Field(description="The same as model_id (the dialect reads both).")
    parent_model: str | None
    session_id: str | None
    round: int | None
    committed_at: str
    sha256: str | None = None
    helper: str = "numpyhelper"
    num_updates: int = 0
    num_samples: int = 0
    metrics: dict[str, float] = Field(default_factory=dict)


class Package(BaseModel):
    """A compute package: the site app a session runs."""

    package_id: str
    name: str
    description: str = ""
    helper: str
    file_name: str
    checksum: str = Field(description="sha256 of the package file.")
    entry: str = Field(default="", description="The site script the package runs.")
    committed_at: str
    active: bool
    builtin: bool


class RoundView(BaseModel):
    """One round of a session."""

    round_id: str
    session_id: str
    round: int
    status: Literal["Success", "Pending", "Failed"]
    model_id: str | None
    round_config: dict[str, Any]
    round_data: dict[str, Any]


class SessionConfig(BaseModel):
    """``session_config`` of ``POST sessions/``. Cohort-only keys: ``dataset``,
    ``local_epochs``, ``learning_rate`` (the built-in package's training) and
    ``client_attributes`` (run only on sites whose current attributes match)."""

    model_config = ConfigDict(extra="forbid")

    aggregator: str = "fedavg"
    aggregator_kwargs: dict[str, Any] | None = None
    rounds: int = Field(default=5, ge=1, le=10_000)
    round_timeout: float = Field(default=180, gt=0)
    buffer_size: int = -1
    model_id: str | None = None
    delete_models_storage: bool = True
    clients_required: int = Field(default=1, ge=1, le=10_000)
    requested_clients: int = Field(default=8, ge=1, le=10_000)
    validate_: bool = Field(default=True, alias="validate")
    helper_type: str | None = None
    server_functions: str | None = None
    dataset: str = "breast_cancer"
    local_epochs: int = Field(default=3, ge=1, le=1000)
    learning_rate: float = Field(default=0.1, gt=0, le=100)
    client_attributes: dict[str, str] | None = None


class NewSession(BaseModel):
    """``POST sessions/``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, pattern=ID_PATTERN)
    seed_model_id: str | None = None
    session_config: SessionConfig = Field(default_factory=SessionConfig)


class SessionCreated(BaseModel):
    """Answer of ``POST sessions/`` (201)."""

    session_id: str
    name: str
    message: str


class SessionStart(BaseModel):
    """``POST sessions/start``: start a created session, or continue a finished one."""

    model_config = ConfigDict(extra="ignore")

    session_id: str
    rounds: int | None = Field(default=None, ge=1, le=10_000)
    round_timeout: float | None = Field(default=None, gt=0)


class SessionView(BaseModel):
    """A session: its config and the jobs that ran it (one per start or continue)."""

    session_id: str
    name: str
    status: Literal["Created", "Started", "Finished", "Failed"]
    session_config: dict[str, Any]
    seed_model_id: str | None
    job_ids: list[str]
    committed_at: str
    message: str = ""


class StatusEntry(BaseModel):
    """An event of the network: a task of a site, a job's state, or one added over the API."""

    id: str
    status: str
    type: str
    log_level: str = "INFO"
    session_id: str | None = None
    correlation_id: str | None = None
    sender: Sender
    data: str | None = None
    timestamp: str


class AddStatus(BaseModel):
    """``POST statuses/``."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(min_length=1, max_length=10_000)
    type: str = Field(default="NETWORK", min_length=1, max_length=100)
    log_level: str = Field(default="INFO", max_length=20)
    session_id: str | None = None
    correlation_id: str | None = None
    sender: Sender = Field(default_factory=Sender)
    data: str | None = Field(default=None, max_length=100_000)


class Validation(BaseModel):
    """A site's evaluation of a global model."""

    id: str
    model_id: str | None
    session_id: str
    correlation_id: str
    data: dict[str, float]
    sender: Sender
    timestamp: str


class Prediction(BaseModel):
    """A site's prediction results for a model."""

    prediction_id: str
    model_id: str | None
    correlation_id: str
    data: dict[str, float]
    sender: Sender
    timestamp: str


class StopSession(BaseModel):
    """``POST control/stop``: the session to stop (Cohort's key; without it, every running
    one: the dialect sends no body)."""

    model_config = ConfigDict(extra="ignore")

    session_id: str | None = Field(default=None, max_length=200)


class StartValidation(BaseModel):
    """``POST validations/start``: the sites score ``model_id``, a validation of the session."""

    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(min_length=1, max_length=200)
    model_id: str = Field(min_length=1, max_length=200)


class StartPredictions(BaseModel):
    """``POST predictions/start`` (older clients)."""

    model_config = ConfigDict(extra="ignore")

    prediction_id: str | None = Field(default=None, pattern=ID_PATTERN)
    model_id: str | None = None


class StartInference(BaseModel):
    """``POST control/start_inference`` (newer clients)."""

    model_config = ConfigDict(extra="ignore")

    model_id: str | None = None
    synchronous: bool = True
    timeout: float | None = Field(default=None, gt=0)
    parameters: dict[str, Any] | None = None
    client_ids: list[str] | None = None


class Attribute(BaseModel):
    """One value of one key of a node, as it was set."""

    key: str
    value: str
    entity_id: str
    committed_at: str


class AddAttribute(BaseModel):
    """``POST attributes/``: the node is ``entity_id`` or the sender's client/combiner id."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=200)
    value: str | int | float | bool
    entity_id: str | None = Field(default=None, pattern=ID_PATTERN)
    sender: Sender | None = None


class CurrentAttributes(BaseModel):
    """``POST attributes/current``."""

    node_ids: list[str] = Field(min_length=1, max_length=10_000)


class AttributeList(BaseModel):
    """``POST attributes/list``: the trail of one node."""

    model_config = ConfigDict(extra="ignore")

    entity_id: str = Field(min_length=1)


class RunCommand(BaseModel):
    """``POST control/run_command``."""

    model_config = ConfigDict(extra="ignore")

    command_type: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    synchronous: bool = False
    blocking: bool = False
    timeout: float | None = Field(default=None, gt=0)
    client_ids: list[str] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class CommandRecord(BaseModel):
    """A custom command: its sites' answers (site -> metrics) once they came back."""

    correlation_id: str
    command_type: str
    status: Literal["Running", "Finished", "Failed"]
    parameters: dict[str, Any]
    client_ids: list[str]
    result: dict[str, dict[str, float]]
    message: str = ""
    committed_at: str


class TokenRefresh(BaseModel):
    """``POST /api/auth/refresh``: the client's key, sent as a refresh token."""

    model_config = ConfigDict(extra="ignore")

    refresh_token: str = Field(min_length=1, max_length=1000)


class UploadInit(BaseModel):
    """``POST file-upload/init``."""

    file_name: str = Field(min_length=1, max_length=255)
    file_size: int = Field(ge=0)
    chunk_size: int = Field(ge=1)
