"""Server settings, with defaults sized for a laptop POC."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServerConfig"]


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
    abort_grace: float = Field(
        default=5.0, ge=0, description="Seconds between SIGTERM and SIGKILL on abort."
    )
