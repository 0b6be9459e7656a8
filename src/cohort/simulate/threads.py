"""The threads back end: every site is a thread of this process; ``threads`` of them run at once.

A site thread holds a run slot while its script works and gives it back while it waits for a
task, so memory grows with the sites that run at once, plus what each script keeps between
rounds (its data, its last model): the simulator itself holds no model for a waiting site.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cohort.simulate.site import SiteInbox, SiteLink, SiteScript, TaskOffer, run_site

__all__ = ["STACK_BYTES", "ThreadsBackend"]

#: Stack reserved per site thread: address space only; resident memory is what a thread uses.
#: 2 MiB leaves room for C extensions that recurse (8 MiB is the Linux default).
STACK_BYTES = 2 * 1024 * 1024


class ThreadsBackend:
    """Runs each site's script in its own thread with a shared pool of run slots."""

    def __init__(
        self,
        job_id: str,
        sites: list[str],
        script: SiteScript,
        link: SiteLink,
        logs_dir: Path,
        threads: int,
    ) -> None:
        self.job_id = job_id
        self.sites = sites
        self.script = script
        self.link = link
        self.logs_dir = logs_dir
        self.slots = threading.Semaphore(threads)
        self.inboxes = {site: SiteInbox() for site in sites}
        self.threads: dict[str, threading.Thread] = {}

    def start(self) -> None:
        """Start every site's thread (they queue for run slots)."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        previous = threading.stack_size(STACK_BYTES)
        try:
            for site in self.sites:
                thread = threading.Thread(
                    target=run_site,
                    args=(
                        site,
                        self.job_id,
                        self.script,
                        self.inboxes[site],
                        self.slots,
                        self.link,
                        self.logs_dir / f"{site}.log",
                    ),
                    name=f"cohort-site-{site}",
                    daemon=True,  # a script stuck forever must not keep the process alive
                )
                thread.start()
                self.threads[site] = thread
        finally:
            threading.stack_size(previous)

    def deliver(self, site: str, offer: TaskOffer) -> None:
        """Queue a task for a site."""
        self.inboxes[site].put(offer)

    def cancel(self, site: str, task_id: str) -> None:
        """Withdraw a task the site has not started."""
        self.inboxes[site].cancel(task_id)

    def stop(self) -> None:
        """The job is over: each site's next fetch returns None."""
        for inbox in self.inboxes.values():
            inbox.close()

    def join(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the sites to end; return those still running."""
        deadline = time.monotonic() + timeout
        for thread in self.threads.values():
            thread.join(max(deadline - time.monotonic(), 0.0))
        return sorted(site for site, thread in self.threads.items() if thread.is_alive())
