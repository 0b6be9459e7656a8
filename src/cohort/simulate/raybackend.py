"""The Ray back end: sites spread over ``threads`` Ray actors, one site working per actor at a
time (the ``cohort[ray]`` extra).

Each actor (:class:`~cohort.simulate.rayhost.SiteHost`) hosts its share of the sites as the
processes back end's workers do, so at most ``threads`` sites work at once and memory grows
with them, not with the number of sites. Ray places the actors on its cluster: the local one
this back end starts (and stops) when Ray is not running yet, or the one ``ray.init()`` in the
caller, or ``RAY_ADDRESS``, connected to.

What crosses: the simulator's messages (:mod:`.hosting`) and the sites' results as safetensors
bytes, each checked by :func:`~cohort.simulate.raywire.check_wire` before the call, so that
Ray carries them as msgpack, never pickle. The actor class is referenced from this package by
name; Ray's control plane pickles that reference, as it does for any code a driver exports.
Actors read a task's model from the workspace file the server side wrote, so on a cluster of
several machines the workspace must be on a file system every node mounts at the same path.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from typing import Any, Unpack

from cohort.errors import ErrorCode, InvalidRequest
from cohort.simulate.hosting import (
    BackendArgs,
    HostedBackend,
    handle_host_message,
    report_lost_sites,
)
from cohort.simulate.rayhost import SiteHost
from cohort.simulate.raywire import check_wire

__all__ = ["LOCAL_OBJECT_STORE_BYTES", "TAKE_WAIT", "RayBackend", "ray_module"]

#: Object store of the local Ray this back end starts: results pass through it one at a time.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024
#: Seconds one poll of an actor waits for its next message.
TAKE_WAIT = 1.0
#: Calls an actor serves at once: the simulator's poll, and the tasks and answers it is sent.
ACTOR_CONCURRENCY = 4


def ray_module() -> Any:
    """The ``ray`` package, or INVALID_ARGS saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise InvalidRequest(
            "the ray back end needs Ray, which is not installed",
            ErrorCode.INVALID_ARGS,
            hint="pip install 'cohort[ray]', or use --backend threads or processes",
        ) from None


class _Host:
    def __init__(self, handle: Any, sites: list[str]) -> None:
        self.handle = handle
        self.sites = sites
        self.reader: threading.Thread | None = None
        self.peak_rss_mb = 0.0


class RayBackend(HostedBackend[_Host]):
    """Runs the sites in ``workers`` Ray actors."""

    def __init__(self, **args: Unpack[BackendArgs]) -> None:
        super().__init__(**args)
        self.started_ray = False

    def _connect(self, ray: Any) -> None:
        """Start a local Ray unless one is running; check it can hold every actor at once."""
        if not ray.is_initialized():
            ray.init(
                num_cpus=max(len(self.groups), os.cpu_count() or 1),
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                log_to_driver=False,  # the sites' output goes to their logs, as elsewhere
                logging_level=logging.WARNING,
            )
            self.started_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 0))
        if cpus < len(self.groups):
            if self.started_ray:
                ray.shutdown()
            raise InvalidRequest(
                f"{len(self.groups)} sites working at once need {len(self.groups)} CPUs on the "
                f"Ray cluster, which has {cpus:g}",
                ErrorCode.INVALID_ARGS,
                hint="Lower -t/--threads, or add nodes to the Ray cluster.",
            )

    def start(self) -> None:
        """Start Ray if needed, then one actor per group of sites and a reader thread each."""
        ray = ray_module()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._connect(ray)
        # One CPU each: Ray spreads the actors over the cluster's nodes as it would tasks.
        actor = ray.remote(SiteHost).options(
            num_cpus=1, max_concurrency=ACTOR_CONCURRENCY, max_restarts=0
        )
        for group in self.groups:
            config = {**self.base, "sites": group}
            check_wire(config, "config")
            host = _Host(actor.remote(config), group)
            host.reader = threading.Thread(target=self._read, args=(host,), daemon=True)
            host.reader.start()
            self.hosts.append(host)
            self.by_site.update(dict.fromkeys(group, host))

    def _read(self, host: _Host) -> None:
        ray = ray_module()
        why = "its Ray actor ended before the site's script did"
        done = False
        while not done:
            try:
                batch = ray.get(host.handle.take.remote(TAKE_WAIT))
            except Exception as exc:  # the actor died, was killed, or Ray went away
                why = f"its Ray actor ended before the site's script did: {exc}"[:4000]
                break
            check_wire(batch, "reply")
            for header, payload in batch:
                if header["type"] == "done":
                    host.peak_rss_mb = float(header["peak_rss_mb"])
                    done = True
                    continue
                reply = handle_host_message(self.link, header, payload, self.reported)
                if reply is not None:
                    self.post(host, reply)
        report_lost_sites(self.link, host.sites, self.reported, 1, why)

    def post(self, host: _Host, message: dict[str, Any]) -> None:
        """Send ``message`` to the actor (checked to be wire data first)."""
        check_wire(message, "message")
        host.handle.post.remote(message)

    def join(self, timeout: float) -> list[str]:
        """Wait for the actors' sites to end; kill the actors (those still running after
        ``timeout`` seconds report their sites), and stop Ray if this back end started it."""
        ray = ray_module()
        deadline = time.monotonic() + timeout
        stuck: list[str] = []
        for host in self.hosts:
            if host.reader is not None:
                host.reader.join(max(deadline - time.monotonic(), 0.0))
                if host.reader.is_alive():
                    stuck.extend(host.sites)
        for host in self.hosts:
            ray.kill(host.handle)
        for host in self.hosts:
            if host.reader is not None:
                host.reader.join(10.0)
        if self.started_ray:
            ray.shutdown()
        return sorted(stuck)
