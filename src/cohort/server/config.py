"""Server settings, with defaults sized for a laptop POC."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RateLimit", "RateLimits", "ServerConfig"]


class RateLimit(BaseModel):
    """At most ``requests`` per ``seconds`` (a fixed window) for one API key."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(ge=1)
    seconds: float = Field(gt=0)


class RateLimits(BaseModel):
    """The REST API's limits per API key; the defaults are seed 003's."""

    model_config = ConfigDict(extra="forbid")

    general: RateLimit = RateLimit(requests=100, seconds=60)
    upload: RateLimit = RateLimit(requests=10, seconds=60)
    training_start: RateLimit = RateLimit(requests=5, seconds=3600)
    websocket_connections: int = Field(default=1, ge=1, description="Open /ws/events per key.")


class ServerConfig(BaseModel):
    """Everything the server process needs to start.

    ``kit`` is the server's startup kit (certificate, key, root CA, host and port).
    """

    model_config = ConfigDict(extra="forbid")

    kit: Path
    workspace: Path
    host: str | None = Field(default=None, description="Bind address; defaults to the kit's.")
    port: int | None = Field(default=None, description="Port; defaults to the kit's.")
    db_url: str | None = Field(default=None, description="Defaults to SQLite in the workspace.")
    heartbeat_interval: float = Field(default=1.0, gt=0)
    site_dead_after: float = Field(
        default=6.0, gt=0, description="Seconds without a heartbeat before a site counts as lost."
    )
    scheduler_interval: float = Field(default=0.5, gt=0)
    long_poll_max: float = Field(default=30.0, gt=0)
    max_job_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_update_bytes: int = Field(default=4 * 1024 * 1024 * 1024, gt=0)
    job_log_streaming: bool = Field(
        default=False,
        description="A global job log streamer and receiver: every job's sites stream their "
        "log.txt unless the job says otherwise (on in a POC; see server/services/logstore.py).",
    )
    rest_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Second port for the REST API: TLS without a client certificate (Bearer "
        "keys instead). None: only the mutual-TLS port, where /api/v1 works too.",
    )
    edge_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the edge API (seed 004; 8092 by convention): TLS without a client "
        "certificate, Bearer keys. None: off.",
    )
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    abort_grace: float = Field(
        default=5.0, ge=0, description="Seconds between SIGTERM and SIGKILL on abort."
    )
