"""Commands on targets for the session API: the server runs them itself, a site gets them
relayed with its next heartbeat reply and posts the answer back.

A site that does not answer within the command timeout (the session's ``set_timeout``, or
:data:`DEFAULT_COMMAND_TIMEOUT`) is NO_REPLY; the server does not wait for it any longer.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from cohort.errors import (
    CohortError,
    ErrorCode,
    InvalidRequest,
    NotAuthorized,
    NotFound,
    error_from_envelope,
)
from cohort.schemas.fleet import CommandResult, SiteCommand
from cohort.server.state import ServerState
from cohort.site.commands import SITE_COMMANDS, run_command
from cohort.tls import Identity

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "TargetService", "command_key", "site_commands_key"]

DEFAULT_COMMAND_TIMEOUT = 10.0
MAX_COMMAND_TIMEOUT = 300.0
SERVER = "server"
CLIENT = "client"
ALL = "all"


def command_key(command_id: str) -> str:
    """Notifier key bumped when a site answers a relayed command."""
    return f"command:{command_id}"


def site_commands_key(site: str) -> str:
    """Notifier key bumped when a command is queued for ``site``."""
    return f"site-commands:{site}"


class TargetService:
    """Resolve targets and run admin commands on them."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def site_names(self) -> list[str]:
        """Every site the server has heard of, by name."""
        return [s.name for s in self.state.store.list_sites()]

    def resolve(self, target_type: str, targets: list[str] | None = None) -> list[str]:
        """``server``, ``client`` (the given sites, or every connected one), or ``all``."""
        if target_type == SERVER:
            return [SERVER]
        connected = [s.name for s in self.state.connected_sites()]
        if target_type not in (CLIENT, ALL):
            raise InvalidRequest(
                f"target type {target_type!r} is not server, client or all",
                code=ErrorCode.INVALID_ARGS,
            )
        if targets:
            known = set(self.site_names())
            for name in targets:
                if name not in known:
                    raise self.unknown(name)
            sites = list(targets)
        else:
            sites = connected
        return [SERVER, *sites] if target_type == ALL else sites

    def unknown(self, name: str) -> NotFound:
        """SITE_NOT_FOUND naming the known targets."""
        return NotFound(
            f"{name!r} is not the server or a known site",
            code=ErrorCode.SITE_NOT_FOUND,
            hint=f"Targets: {', '.join([SERVER, *self.site_names()])}.",
            details={"target": name},
        )

    async def run(
        self, who: Identity, target: str, name: str, args: dict[str, Any], timeout: float | None
    ) -> Any:
        """Run ``name`` on one target and return its output; its error is raised as is."""
        if name not in SITE_COMMANDS:
            raise InvalidRequest(f"unknown command {name!r}", code=ErrorCode.INVALID_ARGS)
        if target == SERVER:
            return run_command(self.state.config.workspace, name, args)
        if target not in self.site_names():
            raise self.unknown(target)
        if target not in {s.name for s in self.state.connected_sites()}:
            raise CohortError(
                f"site {target} is not connected (or disabled): nothing can reach it",
                code=ErrorCode.NO_REPLY,
                hint="Start the site agent, or enable it (enable_client).",
                details={"target": target, "command": name},
            )
        result = await self._relay(target, name, args, timeout)
        if result.error_code is not None:
            raise error_from_envelope(
                {"error": {"code": result.error_code, "message": result.error_message}}
            )
        return result.output

    async def run_many(
        self, who: Identity, targets: list[str], name: str, timeout: float | None
    ) -> dict[str, Any]:
        """Run ``name`` on several targets at once: ``{target: output or {"error": ...}}``."""

        async def one(target: str) -> Any:
            try:
                return await self.run(who, target, name, {}, timeout)
            except CohortError as exc:
                return {"error": {"code": str(exc.code), "message": exc.message}}

        outputs = await asyncio.gather(*(one(t) for t in targets))
        return dict(zip(targets, outputs, strict=True))

    async def _relay(
        self, site: str, name: str, args: dict[str, Any], timeout: float | None
    ) -> CommandResult:
        wait = min(timeout or DEFAULT_COMMAND_TIMEOUT, MAX_COMMAND_TIMEOUT)
        command = SiteCommand(command_id=uuid.uuid4().hex, name=name, args=args)
        key, notifier = command_key(command.command_id), self.state.notifier
        since = notifier.version(key)
        self.state.site_commands.setdefault(site, []).append(command)
        self.state.command_sites[command.command_id] = site
        notifier.notify(site_commands_key(site))  # wakes the site's command long poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            while command.command_id not in self.state.command_results:
                left = deadline - loop.time()
                if left <= 0:
                    raise CohortError(
                        f"site {site} did not answer {name} within {wait:g} s",
                        code=ErrorCode.NO_REPLY,
                        hint="Check that the site is connected; raise the session timeout "
                        "with set_timeout().",
                        details={"target": site, "command": name},
                    )
                since = await notifier.wait(key, since, left)
            return self.state.command_results.pop(command.command_id)
        finally:
            pending = self.state.site_commands.get(site, [])
            if command in pending:
                pending.remove(command)
            self.state.command_results.pop(command.command_id, None)
            self.state.command_sites.pop(command.command_id, None)

    async def next_commands(self, site: Identity, wait: float) -> list[SiteCommand]:
        """Long-poll for the commands queued for ``site`` (handed out once, here or with its
        heartbeat reply). A disabled site is refused, as its heartbeats are."""
        self._check_enabled(site.name)
        key, notifier = site_commands_key(site.name), self.state.notifier
        since = notifier.version(key)
        if not self.state.site_commands.get(site.name):
            await notifier.wait(
                key, since, min(wait, self.state.config.long_poll_max), long_poll=True
            )
        self._check_enabled(site.name)  # it may have been disabled while this poll waited
        return self.state.site_commands.pop(site.name, [])

    def _check_enabled(self, site: str) -> None:
        if not self.state.store.get_site(site).enabled:
            raise NotAuthorized(f"site {site} is disabled", details={"site": site})

    def answer(self, site: Identity, command_id: str, result: CommandResult) -> None:
        """A site's answer to a command relayed to it (ignored once nobody waits for it)."""
        owner = self.state.command_sites.get(command_id)
        if owner is None:
            return  # the admin gave up waiting: the answer is late, not wrong
        if owner != site.name:
            raise NotAuthorized(f"command {command_id} was not sent to {site.name}")
        self.state.command_results[command_id] = result
        self.state.notifier.notify(command_key(command_id))
