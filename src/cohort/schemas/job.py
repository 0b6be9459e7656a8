"""The job folder format: ``meta.json`` and each app's server and client configuration."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ALL_SITES", "ClientAppConfig", "JobMeta", "ServerAppConfig", "SiteError"]

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
    min_clients: int = Field(default=1, ge=1, le=100_000)
    resource_spec: dict[str, Any] = Field(default_factory=dict)
    launcher: dict[str, Any] = Field(default_factory=dict)
    scheduling_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a job may wait for min_clients sites before it is failed.",
    )
    log_streaming: bool = Field(
        default=True,
        description="Sites stream their job script's output to the server (`cohort job logs`).",
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


class ServerAppConfig(BaseModel):
    """``<app>/config/config_fed_server.json``: the workflow the server job process runs."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(default="fedavg", description="Name of a built-in workflow.")
    args: dict[str, Any] = Field(default_factory=dict)


class ClientAppConfig(BaseModel):
    """``<app>/config/config_fed_client.json``: the script each site runs for the job."""

    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="Path of the script inside the app folder.")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)


class SiteError(BaseModel):
    """A failure on a site, as carried in the job's meta."""

    site: str
    error: str
    traceback_tail: str = ""
    time: float
