"""In-process wake-ups for long polls: no waiter polls the store while nothing changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

__all__ = ["Notifier"]


class Notifier:
    """Versioned keys with waiters. Used only from the event loop's thread."""

    def __init__(self) -> None:
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._events: dict[str, asyncio.Event] = {}

    def version(self, key: str) -> int:
        """Current version of ``key`` (0 until first notified)."""
        return self._versions[key]

    def notify(self, *keys: str) -> None:
        """Bump each key and wake everyone waiting on it."""
        for key in keys:
            self._versions[key] += 1
            event = self._events.pop(key, None)
            if event is not None:
                event.set()

    async def wait(self, key: str, since: int, timeout: float) -> int:
        """Wait until ``key`` is past version ``since`` or ``timeout`` passes; return the
        version then."""
        if self._versions[key] > since:
            return self._versions[key]
        event = self._events.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self._versions[key]


def job_key(job_id: str) -> str:
    """Key bumped by every change to a job's record."""
    return f"job:{job_id}"


def tasks_key(job_id: str) -> str:
    """Key bumped by every change to a job's tasks."""
    return f"tasks:{job_id}"


def site_tasks_key(job_id: str, site: str) -> str:
    """Key bumped when a site may have a new task (or its job ended)."""
    return f"site-tasks:{job_id}:{site}"


JOBS_KEY = "jobs"  # bumped on any job submit or status change (wakes the scheduler)
