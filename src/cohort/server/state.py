"""What every service of one server process shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cohort.schemas.fleet import CommandResult, LogSetting, SiteCapacity, SiteCommand
from cohort.schemas.records import SiteRecord
from cohort.server.config import ServerConfig
from cohort.server.notify import EventHub, Notifier
from cohort.store import ArtifactStore, StateStore

if TYPE_CHECKING:
    from cohort.server.launcher import JobLauncher

__all__ = ["ServerState"]


@dataclass
class ServerState:
    """The store, the artifacts, the wake-ups and the settings of one server process."""

    config: ServerConfig
    store: StateStore
    artifacts: ArtifactStore
    notifier: Notifier = field(default_factory=Notifier)
    #: live events for /ws/events subscribers (see cohort.server.services.events)
    events: EventHub = field(default_factory=EventHub)
    launcher: JobLauncher | None = None
    started: float = field(default_factory=time.time)
    clock: Callable[[], float] = time.time
    #: job id -> sites whose job script has exited, so their streamed log is complete.
    exited: dict[str, set[str]] = field(default_factory=dict)
    #: site -> deleted jobs whose workspace the site must remove (sent with its heartbeat).
    #: Kept in memory: a site that is away until the server restarts keeps a stale folder.
    pending_deletes: dict[str, set[str]] = field(default_factory=dict)
    #: job id -> target ("server" or a site) -> the log setting asked for with log-config.
    log_configs: dict[str, dict[str, LogSetting]] = field(default_factory=dict)
    #: site -> admin commands waiting for its next heartbeat (session API ls, version, ...).
    site_commands: dict[str, list[SiteCommand]] = field(default_factory=dict)
    #: site -> the capacity its newest heartbeat reported (resource policies of selection).
    #: In memory: every heartbeat reports it again, so a restart loses only a second of it.
    site_capacity: dict[str, SiteCapacity] = field(default_factory=dict)
    #: command id -> a site's answer, until the admin request waiting for it takes it.
    command_results: dict[str, CommandResult] = field(default_factory=dict)
    #: command id -> the site it was relayed to (only that site may answer it).
    command_sites: dict[str, str] = field(default_factory=dict)
    #: site -> when an admin released its connection (remove_client): it counts as
    #: disconnected until a heartbeat arrives after that moment.
    released: dict[str, float] = field(default_factory=dict)
    #: Set by shutdown_system: every heartbeat reply tells the site to shut down.
    shutdown_sites: bool = False
    #: Stops this server process; True asks it to start again (set by run_server).
    stop_server: Callable[[bool], None] | None = None

    @property
    def artifacts_root(self) -> Path:
        """Folder of the file artifact store (job processes read models from it directly)."""
        return self.config.workspace / "artifacts"

    def is_connected(self, site: SiteRecord, now: float | None = None) -> bool:
        """A site is connected while its heartbeats keep arriving."""
        now = self.clock() if now is None else now
        if site.last_seen <= self.released.get(site.name, float("-inf")):
            return False
        return site.enabled and now - site.last_seen <= self.config.site_dead_after

    def heard_since_start(self, site: SiteRecord) -> bool:
        """Whether the site sent a heartbeat since this server started: one from before a
        crash can still look recent while the site's agent has not reconnected."""
        return site.last_seen >= self.started

    def connected_sites(self) -> list[SiteRecord]:
        """Sites heard from within ``site_dead_after`` seconds, by name."""
        now = self.clock()
        return [s for s in self.store.list_sites() if self.is_connected(s, now)]
