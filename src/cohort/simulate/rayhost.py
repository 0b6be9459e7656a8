"""The Ray back end's actor: it hosts a share of the sites, as a worker process of the
processes back end does.

The class is plain Python, importable from this module, so that Ray refers to it by name; the
back end (:mod:`cohort.simulate.raybackend`) makes it an actor with ``ray.remote``. Messages go
in through :meth:`SiteHost.post` and come out through :meth:`SiteHost.take` (the simulator
polls); every argument and return value is checked to be wire data (:mod:`.raywire`).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from cohort.simulate.hosting import HostLink, deliver_to_sites, run_hosted_sites
from cohort.simulate.processes import rss_mb
from cohort.simulate.raywire import check_wire
from cohort.simulate.site import SiteInbox

__all__ = ["BATCH_BYTES", "SiteHost"]

#: :meth:`SiteHost.take` stops adding messages to a batch past this many payload bytes.
BATCH_BYTES = 8 * 1024 * 1024


class SiteHost:
    """Runs the scripts of ``config["sites"]`` one at a time, in threads of this actor."""

    def __init__(self, config: dict[str, Any]) -> None:
        check_wire(config, "config")
        self.sites: list[str] = list(config["sites"])
        self.outbox: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
        self.link = HostLink(self._post, self.sites)
        self.inboxes = {site: SiteInbox() for site in self.sites}
        self.runner = threading.Thread(target=self._run, args=(config,), daemon=True)
        self.runner.start()

    def _post(self, header: dict[str, Any], payload: bytes) -> None:
        self.outbox.put([header, payload])

    def _run(self, config: dict[str, Any]) -> None:
        try:
            run_hosted_sites(config, self.sites, self.inboxes, self.link)
        finally:
            self._post({"type": "done", "peak_rss_mb": rss_mb()}, b"")

    def post(self, message: dict[str, Any]) -> None:
        """A message from the simulator: a task, a cancel, an answer to a result, or stop."""
        check_wire(message, "message")
        deliver_to_sites(message, self.inboxes, self.link)

    def take(self, wait: float) -> list[list[Any]]:
        """Messages for the simulator, as ``[header, payload]`` pairs: waits up to ``wait``
        seconds for the first, then adds those already queued (up to :data:`BATCH_BYTES`)."""
        try:
            first = self.outbox.get(timeout=wait)
        except queue.Empty:
            return []
        batch, size = [first], len(first[1])
        while size < BATCH_BYTES:
            try:
                item = self.outbox.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            size += len(item[1])
        check_wire(batch, "reply")
        return batch
