"""``SessionSpec``: the session API as seed 000 specifies it, one abstract method per command.

:class:`cohort.admin.Session` implements it over ``/admin/v1``. Every failure raises one of
the exceptions in :mod:`cohort.admin.spec_types`; nothing returns a status code.
"""

from __future__ import annotations

import abc
from typing import Any

from cohort.admin.spec_types import MonitorReturnCode, SystemInfo

__all__ = ["SessionSpec"]


class SessionSpec(abc.ABC):
    """What an admin session can do. Targets are "server", "client", "all" or a site name."""

    # -- jobs -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def submit_job(self, job_definition_path: str, submit_token: str | None = None) -> str:
        """Submit a job folder; return its job id.

        With ``submit_token`` (scoped by study and submitter), a retry with the same content
        returns the first job's id; different content raises SubmitTokenConflict; a token
        whose job was deleted raises SubmitTokenJobDeleted. A refused folder raises
        InvalidJobDefinition.
        """

    @abc.abstractmethod
    def clone_job(self, job_id: str) -> str:
        """Submit the stored job ``job_id`` again as a new job; return the new job's id."""

    @abc.abstractmethod
    def list_jobs(
        self,
        detailed: bool = False,
        limit: int | None = None,
        id_prefix: str | None = None,
        name_prefix: str | None = None,
        reverse: bool = False,
        submit_token: str | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """List jobs, oldest first (newest first with ``reverse``).

        Args:
            detailed: whole job meta per job instead of a summary.
            limit: at most this many jobs (0 or None: all).
            id_prefix: only jobs whose id starts with this.
            name_prefix: only jobs whose name starts with this.
            reverse: newest first.
            submit_token: only the job this caller's token created (empty list when unused).
            **kwargs: legacy aliases ``id``/``job_id`` (id prefix) and ``name`` (name prefix).
        """

    @abc.abstractmethod
    def get_job_meta(self, job_id: str) -> dict[str, Any]:
        """The job's metadata (``job_id``, ``name``, ``status``, ``submit_time``, ...)."""

    @abc.abstractmethod
    def get_job_logs(
        self,
        job_id: str,
        target: str = "server",
        tail_lines: int | None = None,
        grep_pattern: str | None = None,
        log_file_name: str = "log.txt",
    ) -> dict[str, Any]:
        """Stored logs of a job: ``{"logs": {site: text}, "unavailable": {site: reason}}``.

        ``target`` is "server", "all" or a site; ``tail_lines`` keeps the last N lines and
        ``grep_pattern`` the lines matching a regular expression (both deprecated).
        """

    @abc.abstractmethod
    def abort_job(self, job_id: str) -> None:
        """Abort a job: no effect once done; a job not yet started is never scheduled."""

    @abc.abstractmethod
    def delete_job(self, job_id: str) -> dict[str, Any]:
        """Delete a job everywhere (store, server and site workspaces), aborting it first if it
        runs. Returns ``{"job_id", "submit_records_marked_deleted", ...}``."""

    @abc.abstractmethod
    def download_job_result(self, job_id: str, destination: str | None = None) -> str:
        """Download and unpack the job's result; return its folder.

        It lands in the kit's ``transfer/`` folder, or under ``destination`` when given.
        """

    @abc.abstractmethod
    def list_job_components(self, job_id: str) -> list[str]:
        """Names of the job's additional components (``ERRORLOG_<site>``, ...)."""

    @abc.abstractmethod
    def download_job_components(self, job_id: str) -> str:
        """Download the job's additional components; return the folder holding them."""

    @abc.abstractmethod
    def get_available_apps_to_upload(self) -> list[str]:
        """Job folders in the kit's ``transfer/`` folder (each holds a ``meta.json``)."""

    # -- waiting --------------------------------------------------------------------------------
    @abc.abstractmethod
    def wait_for_job(
        self, job_id: str, timeout: float = 0.0, poll_interval: float = 2.0
    ) -> dict[str, Any]:
        """Wait until the job ends; return its meta. JobTimeout after ``timeout`` s (0: never)."""

    def monitor_job(
        self,
        job_id: str,
        timeout: int = 0,
        poll_interval: float = 2.0,
        cb: Any = None,
        *cb_args: Any,
        **cb_kwargs: Any,
    ) -> MonitorReturnCode:
        """Monitor a job until it is done, ``timeout`` s pass (0: never), or ``cb`` returns
        False. ``cb(session, job_id, job_meta, *cb_args, **cb_kwargs)`` runs after each poll.
        """
        rc, _ = self.monitor_job_and_return_job_meta(
            job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs
        )
        return rc

    @abc.abstractmethod
    def monitor_job_and_return_job_meta(
        self,
        job_id: str,
        timeout: float = 0.0,
        poll_interval: float = 2.0,
        cb: Any = None,
        *cb_args: Any,
        **cb_kwargs: Any,
    ) -> tuple[MonitorReturnCode, dict[str, Any] | None]:
        """As :meth:`monitor_job`, returning ``(MonitorReturnCode, last job meta)``."""

    # -- job observation ------------------------------------------------------------------------
    @abc.abstractmethod
    def show_stats(
        self, job_id: str, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Stats of a running job per target: ``{target: {component: stats}}``."""

    @abc.abstractmethod
    def show_errors(
        self, job_id: str, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Errors of a job per target (only targets with errors): ``{target: {component:
        [errors]}}``."""

    @abc.abstractmethod
    def reset_errors(self, job_id: str) -> None:
        """Clear the job's errors on every target (later errors show again)."""

    @abc.abstractmethod
    def configure_job_log(self, job_id: str, config: Any, target: str = "all") -> None:
        """Set a running job's logging: a level, a mode (concise, msg_only, full, verbose,
        reload), a JSON file path or a dictConfig dict, on "all", "server" or a site."""

    # -- system ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_system_info(self) -> SystemInfo:
        """The server, the connected clients and the running jobs."""

    @abc.abstractmethod
    def get_connected_client_list(self) -> list[Any]:
        """The connected clients as ``ClientInfo``."""

    @abc.abstractmethod
    def get_client_job_status(
        self, client_names: list[str] | None = None
    ) -> list[dict[str, Any]] | None:
        """Jobs running on the clients: one dict (``client_name``, ``job_id``, ``app_name``,
        ``status``) per job per client; None when no client is connected."""

    @abc.abstractmethod
    def check_status(self, target_type: str, targets: list[str] | None = None) -> dict[str, Any]:
        """Status of the server and/or clients, keyed by site name."""

    @abc.abstractmethod
    def report_resources(
        self, target_type: str, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """CPU, memory and disk of the server and/or clients, keyed by site name."""

    @abc.abstractmethod
    def report_version(self, target_type: str, targets: list[str] | None = None) -> dict[str, Any]:
        """Cohort and Python versions per site."""

    @abc.abstractmethod
    def configure_site_log(self, config: Any, target: str = "all") -> None:
        """Set the site-level log level or mode of the server and/or clients."""

    @abc.abstractmethod
    def get_working_directory(self, target: str) -> str:
        """The workspace folder of the server or a client."""

    @abc.abstractmethod
    def ls_target(self, target: str, options: str | None = None, path: str | None = None) -> str:
        """``ls`` in the target's workspace (options: ``-l -a -1 -h -t -r``)."""

    @abc.abstractmethod
    def cat_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``cat`` a file of the target's workspace (options: ``-n``)."""

    @abc.abstractmethod
    def grep_target(
        self,
        target: str,
        options: str | None = None,
        pattern: str | None = None,
        file: str | None = None,
    ) -> str:
        """``grep`` a file of the target's workspace (options: ``-i -n -v -c -w -F``)."""

    @abc.abstractmethod
    def head_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``head`` of a file of the target's workspace (options: ``-n N``)."""

    @abc.abstractmethod
    def head_target_log(self, target: str, options: str | None = None) -> str:
        """``head log.txt`` on the target."""

    @abc.abstractmethod
    def tail_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        """``tail`` of a file of the target's workspace (options: ``-n N``)."""

    @abc.abstractmethod
    def tail_target_log(self, target: str, options: str | None = None) -> str:
        """``tail log.txt`` on the target."""

    # -- clients --------------------------------------------------------------------------------
    @abc.abstractmethod
    def enable_client(self, client_name: str) -> dict[str, Any]:
        """Let a disabled client connect again."""

    @abc.abstractmethod
    def disable_client(self, client_name: str) -> dict[str, Any]:
        """Refuse a client's heartbeats (it gets no jobs) until it is enabled again."""

    @abc.abstractmethod
    def remove_client(self, client_name: str) -> None:
        """Release a client's active connection; it is not stopped and may reconnect."""

    # -- server and session ---------------------------------------------------------------------
    @abc.abstractmethod
    def restart(
        self,
        target_type: str,
        client_names: list[str] | None = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Restart the server (``target_type`` must be "server"); ``{"status",
        "server_status"}``."""

    @abc.abstractmethod
    def shutdown(
        self,
        target_type: str,
        client_names: list[str] | None = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Shut the server down (``target_type`` must be "server")."""

    @abc.abstractmethod
    def shutdown_system(self) -> None:
        """Shut down the server and every client."""

    @abc.abstractmethod
    def set_timeout(self, value: float) -> None:
        """How long the server waits for clients' answers to this session's commands."""

    @abc.abstractmethod
    def unset_timeout(self) -> None:
        """Go back to the server's default command timeout."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the session; later calls raise SessionClosed."""

    # -- studies --------------------------------------------------------------------------------
    @abc.abstractmethod
    def list_studies(self) -> dict[str, Any]:
        """Studies visible to the caller: ``{"studies": [...]}``."""

    @abc.abstractmethod
    def show_study(self, study: str) -> dict[str, Any]:
        """One study's details."""

    @abc.abstractmethod
    def register_study(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Create or merge a study; exactly one of ``sites`` / ``site_orgs``."""

    @abc.abstractmethod
    def add_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Enroll sites in a study; exactly one of ``sites`` / ``site_orgs``."""

    @abc.abstractmethod
    def remove_study_site(
        self, study: str, sites: list[str] | None = None, site_orgs: list[str] | None = None
    ) -> dict[str, Any]:
        """Remove sites from a study; exactly one of ``sites`` / ``site_orgs``."""

    @abc.abstractmethod
    def add_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Add a user to the study's admins."""

    @abc.abstractmethod
    def remove_study_user(self, study: str, user: str) -> dict[str, Any]:
        """Remove a user from the study's admins."""

    @abc.abstractmethod
    def remove_study(self, study: str) -> dict[str, Any]:
        """Remove a study and its registry entries."""
