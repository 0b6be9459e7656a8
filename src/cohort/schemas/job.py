"""The job folder format: ``meta.json`` and each app's server and client configuration."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cohort.schemas.policy import JobPolicies

__all__ = [
    "ALL_SITES",
    "LOG_FILE_NAMES",
    "MAX_SITES",
    "ClientAppConfig",
    "ClientComponent",
    "JobLogReceiver",
    "JobLogStreamer",
    "JobMeta",
    "LogFileName",
    "ServerAppConfig",
    "ServerComponent",
    "SiteError",
]

#: The files a site's job log can be streamed as: plain text, or one JSON record a line.
LogFileName = Literal["log.txt", "log.json"]

#: The most sites a job may ask for (min_clients); one bound for job folders and REST.
MAX_SITES = 100_000
LOG_FILE_NAMES: tuple[LogFileName, ...] = ("log.txt", "log.json")

#: deploy_map target meaning "every site the job runs on".
ALL_SITES = "@ALL"
#: deploy_map target naming the server.
SERVER_TARGET = "server"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


class JobMeta(BaseModel):
    """``meta.json`` at the root of a job folder: what the job is and where each app runs."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=128)
    deploy_map: dict[str, list[str]] = Field(
        description='App folder -> targets: "server", site names, or "@ALL".'
    )
    min_clients: int = Field(default=1, ge=1, le=MAX_SITES)
    resource_spec: dict[str, Any] = Field(default_factory=dict)
    launcher: dict[str, Any] = Field(default_factory=dict)
    scheduling_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a job may wait for min_clients sites before it is failed.",
    )
    log_streaming: bool | None = Field(
        default=None,
        description="false keeps every site's job log on the site, whatever the job's "
        "components and the server's default say; true streams log.txt (unless a "
        "JobLogStreamer chooses log.json) on any server; null (the default) lets the "
        "components and the server's default decide.",
    )
    policies: JobPolicies = Field(
        default_factory=JobPolicies,
        description="Update validation before aggregation, trust threshold and resource "
        "requirements of client selection (docs/policies.md).",
    )

    @field_validator("deploy_map")
    @classmethod
    def _check_deploy_map(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("deploy_map names no app")
        for app, targets in value.items():
            if not _NAME.match(app) or app in {".", ".."}:
                raise ValueError(f"deploy_map app name {app!r} is not a plain folder name")
            if not targets:
                raise ValueError(f"deploy_map app {app!r} has no targets")
            for target in targets:
                if target != ALL_SITES and not _NAME.match(target):
                    raise ValueError(f"deploy_map target {target!r} is not a valid site name")
        return value

    def server_app(self) -> str | None:
        """Return the app folder deployed to the server, if any."""
        for app, targets in self.deploy_map.items():
            if SERVER_TARGET in targets or ALL_SITES in targets:
                return app
        return None

    def client_app_for(self, site: str) -> str | None:
        """Return the app folder a given site runs, or None when the site takes no part."""
        for app, targets in self.deploy_map.items():
            if site in targets:
                return app
        for app, targets in self.deploy_map.items():
            if ALL_SITES in targets:
                return app
        return None

    def named_sites(self) -> list[str]:
        """Return the sites named explicitly (empty when the job runs on every site)."""
        names = {t for targets in self.deploy_map.values() for t in targets}
        if ALL_SITES in names:
            return []
        return sorted(names - {SERVER_TARGET})


class JobLogStreamer(BaseModel):
    """A site component: stream the job's log to the server while the job runs."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["job_log_streamer"] = "job_log_streamer"
    log_file_name: LogFileName = Field(
        default="log.txt",
        description="log.txt streams the output as it is; log.json one JSON record per line.",
    )


class JobLogReceiver(BaseModel):
    """A server component: accept the sites' streamed job logs and store them with the job."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["job_log_receiver"] = "job_log_receiver"


#: Components a client app may list (one kind for now; a union once there are more).
ClientComponent = Annotated[JobLogStreamer, Field(discriminator="type")]
#: Components a server app may list.
ServerComponent = Annotated[JobLogReceiver, Field(discriminator="type")]


class ServerAppConfig(BaseModel):
    """``<app>/config/config_fed_server.json``: the workflow the server job process runs."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(default="fedavg", description="Name of a built-in workflow.")
    args: dict[str, Any] = Field(default_factory=dict)
    components: list[ServerComponent] = Field(default_factory=list, max_length=16)

    def log_receiver(self) -> bool:
        """True when the app carries a JobLogReceiver."""
        return any(isinstance(c, JobLogReceiver) for c in self.components)


class ClientAppConfig(BaseModel):
    """``<app>/config/config_fed_client.json``: the script each site runs for the job."""

    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="Path of the script inside the app folder.")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    components: list[ClientComponent] = Field(default_factory=list, max_length=16)

    def log_streamer(self) -> JobLogStreamer | None:
        """The app's JobLogStreamer, if it has one."""
        return next((c for c in self.components if isinstance(c, JobLogStreamer)), None)


class SiteError(BaseModel):
    """A failure on a site, as carried in the job's meta."""

    site: str
    error: str
    traceback_tail: str = ""
    time: float
