"""The session's system commands: targets, reports, clients, server lifecycle and studies.

A mixin of :class:`cohort.admin.Session`; each method is documented on
:class:`cohort.admin.spec.SessionSpec`.
"""

from __future__ import annotations

import time
from typing import Any

from cohort.admin.api import AdminAPI
from cohort.admin.logsetting import log_setting
from cohort.admin.spec_errors import invalid, translate_errors
from cohort.admin.spec_types import TargetType
from cohort.errors import CohortError, ErrorCode

__all__ = ["SystemCommands"]

_TARGET_TYPES = (TargetType.SERVER, TargetType.CLIENT, TargetType.ALL)


def _check_target_type(target_type: str, allowed: tuple[str, ...] = _TARGET_TYPES) -> None:
    if target_type not in allowed:
        raise invalid(f"target_type must be one of {', '.join(allowed)}, not {target_type!r}")


class SystemCommands:
    """System commands over ``/admin/v1`` (mixed into :class:`~cohort.admin.Session`)."""

    command_timeout: float | None = None

    def _live(self) -> AdminAPI:
        raise NotImplementedError

    def _target(self, target: str, command: str, **args: Any) -> Any:
        if not target:
            raise invalid("target must be 'server' or a client name")
        body = {k: v for k, v in args.items() if v is not None}
        body["timeout"] = self.command_timeout
        return self._live().call("POST", f"/admin/v1/targets/{target}/{command}", json=body)[
            "output"
        ]

    def _report(self, kind: str, target_type: str, targets: list[str] | None) -> dict[str, Any]:
        _check_target_type(target_type)
        params: dict[str, Any] = {"target_type": target_type}
        if targets:
            params["targets"] = targets
        if self.command_timeout is not None:
            params["timeout"] = self.command_timeout
        result: dict[str, Any] = self._live().call("GET", f"/admin/v1/report/{kind}", params=params)
        return result

    # -- targets --------------------------------------------------------------------------------
    @translate_errors
    def get_working_directory(self, target: str) -> str:
        """The workspace folder of the server or a client."""
        return str(self._target(target, "pwd"))

    @translate_errors
    def ls_target(self, target: str, options: str | None = None, path: str | None = None) -> str:
        """``ls`` in the target's workspace."""
        return str(self._target(target, "ls", options=options, path=path))

    @translate_errors
    def cat_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``cat`` a file of the target's workspace."""
        return str(self._target(target, "cat", options=options, path=file))

    @translate_errors
    def grep_target(
        self,
        target: str,
        options: str | None = None,
        pattern: str | None = None,
        file: str | None = None,
    ) -> str:
        """``grep`` a file of the target's workspace."""
        return str(self._target(target, "grep", options=options, pattern=pattern, path=file))

    @translate_errors
    def head_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``head`` of a file of the target's workspace."""
        return str(self._target(target, "head", options=options, path=file))

    @translate_errors
    def head_target_log(self, target: str, options: str | None = None) -> str:
        """``head log.txt`` on the target."""
        return str(self._target(target, "head", options=options, path="log.txt"))

    @translate_errors
    def tail_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``tail`` of a file of the target's workspace."""
        return str(self._target(target, "tail", options=options, path=file))

    @translate_errors
    def tail_target_log(self, target: str, options: str | None = None) -> str:
        """``tail log.txt`` on the target."""
        return str(self._target(target, "tail", options=options, path="log.txt"))

    # -- reports --------------------------------------------------------------------------------
    @translate_errors
    def report_resources(
        self, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """CPU, memory and disk per site."""
        return self._report("resources", target_type, targets)

    @translate_errors
    def report_version(self, target_type: str, targets: list[str] | None = None) -> dict[str, Any]:
        """Cohort and Python versions per site."""
        return self._report("version", target_type, targets)

    @translate_errors
    def check_status(self, target_type: str, targets: list[str] | None = None) -> dict[str, Any]:
        """Status of the server and/or clients, keyed by site name."""
        _check_target_type(target_type)
        api = self._live()
        result: dict[str, Any] = {}
        if target_type in (TargetType.SERVER, TargetType.ALL):
            system = api.system_info()
            result["server"] = {
                "status": system["status"],
                "start_time": system["start_time"],
                "running_jobs": system["running_jobs"],
            }
        if target_type in (TargetType.CLIENT, TargetType.ALL):
            clients = {c["site"]["name"]: c for c in api.call("GET", "/admin/v1/clients")}
            for name in targets or sorted(clients):
                if name not in clients:
                    raise CohortError(f"unknown client {name!r}", code=ErrorCode.SITE_NOT_FOUND)
                site, connected = clients[name]["site"], clients[name]["connected"]
                status = "disabled" if not site["enabled"] else "connected"
                result[name] = {
                    "status": status if connected or not site["enabled"] else "disconnected",
                    "org": site["org"],
                    "last_seen": site["last_seen"],
                }
        return result

    @translate_errors
    def configure_site_log(self, config: Any, target: str = "all") -> None:
        """Set the site-level log level, mode or dictConfig of the server and/or clients."""
        body = {"setting": log_setting(config), "target": target, "timeout": self.command_timeout}
        self._live().call("POST", "/admin/v1/site-log", json=body)

    # -- clients --------------------------------------------------------------------------------
    def _client(self, client_name: str, action: str) -> dict[str, Any]:
        if not client_name:
            raise invalid("client_name is required")
        reply = self._live().call("POST", f"/admin/v1/clients/{client_name}/{action}")
        return {
            "status": "ok",
            "client_name": client_name,
            "enabled": reply["site"]["enabled"],
            "connected": reply["connected"],
        }

    @translate_errors
    def enable_client(self, client_name: str) -> dict[str, Any]:
        """Let a disabled client connect again."""
        return self._client(client_name, "enable")

    @translate_errors
    def disable_client(self, client_name: str) -> dict[str, Any]:
        """Refuse a client's heartbeats until it is enabled again."""
        return self._client(client_name, "disable")

    @translate_errors
    def remove_client(self, client_name: str) -> None:
        """Release a client's active connection (it may reconnect)."""
        self._client(client_name, "remove")

    # -- server ---------------------------------------------------------------------------------
    def _server(self, action: str, target_type: str, wait: bool, timeout: float) -> dict[str, Any]:
        _check_target_type(target_type, (TargetType.SERVER,))
        api = self._live()
        before = api.call("POST", f"/admin/v1/server/{action}")
        result = {"status": "ok", "server_status": f"{action} requested"}
        deadline = time.monotonic() + timeout
        while wait and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                info = api.system_info()
            except CohortError as exc:
                if exc.code == ErrorCode.NO_CONNECTION and action == "shutdown":
                    return {"status": "ok", "server_status": "stopped"}
                continue
            if action == "restart" and info["start_time"] != before["start_time"]:
                return {"status": "ok", "server_status": "restarted"}
        if wait:
            result = {"status": "timeout", "server_status": f"not {action} within {timeout} s"}
        return result

    @translate_errors
    def restart(
        self,
        target_type: str,
        client_names: list[str] | None = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Restart the server."""
        return self._server("restart", target_type, wait, timeout)

    @translate_errors
    def shutdown(
        self,
        target_type: str,
        client_names: list[str] | None = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Shut the server down."""
        return self._server("shutdown", target_type, wait, timeout)

    @translate_errors
    def shutdown_system(self) -> None:
        """Shut down the server and every client."""
        self._live().call("POST", "/admin/v1/system/shutdown")

    # -- studies: the registry of cohort.admin.registry (which refuses both or neither of
    # sites and site_orgs as INVALID_ARGS, raised here as InvalidArgumentError) ------------
    @translate_errors
    def list_studies(self) -> dict[str, Any]:
        """Studies visible to the caller: ``{"studies": [study payload, ...]}``."""
        return {"studies": self._live().list_studies()}

    @translate_errors
    def show_study(self, study: str) -> dict[str, Any]:
        """One study's details."""
        return self._live().show_study(study)

    @translate_errors
    def register_study(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Create or merge a study."""
        return self._live().register_study(study, sites, site_orgs)

    @translate_errors
    def add_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Enroll sites in a study."""
        return self._live().add_study_site(study, sites, site_orgs)

    @translate_errors
    def remove_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Remove sites from a study."""
        return self._live().remove_study_site(study, sites, site_orgs)

    @translate_errors
    def add_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Add a user to the study's admins."""
        return self._live().add_study_user(study, user)

    @translate_errors
    def remove_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Remove a user from the study's admins."""
        return self._live().remove_study_user(study, user)

    @translate_errors
    def remove_study(self, study: str) -> dict[str, Any]:
        """Remove a study and its registry entries."""
        return self._live().remove_study(study)
