"""In-process wake-ups for long polls: no waiter polls the store while nothing changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

__all__ = ["EventHub", "Notifier"]


class Notifier:
    """Versioned keys with waiters. Used only from the event loop's thread."""

    def __init__(self) -> None:
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._events: dict[str, asyncio.Event] = {}
        self.stopping = False  # set by stop_long_polls: the server is stopping

    def stop_long_polls(self) -> None:
        """The server is stopping: wake every waiter now, and let no long poll wait from now
        on. A request's long poll then answers at once with what it has (no task, no change),
        instead of holding the stop until uvicorn's graceful timeout cuts it; its client
        retries either way. The scheduler's key is left alone (no request waits on it, and
        a stopping server should not start a scheduling pass for it).
        """
        self.stopping = True
        for key in [k for k in self._events if k != JOBS_KEY]:
            self._events.pop(key).set()

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

    async def wait(self, key: str, since: int, timeout: float, *, long_poll: bool = False) -> int:
        """Wait until ``key`` is past version ``since`` or ``timeout`` passes; return the
        version then. A ``long_poll`` (a request waiting for its answer) does not wait once
        the server is stopping; a caller that loops must check :attr:`stopping`."""
        if self._versions[key] > since or (long_poll and self.stopping):
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


class EventHub:
    """Live events for WebSocket subscribers (``/ws/events``), published by the services as
    things happen. Used only from the event loop's thread.

    Each subscriber has its own bounded queue: a slow reader loses its oldest events instead
    of holding up the server or growing its memory.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._size = queue_size

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A new queue that receives every event published from now on."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering to ``queue``."""
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        """How many queues are subscribed."""
        return len(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        """Deliver ``event`` (a JSON-able dict with a ``type``) to every subscriber."""
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()  # drop the oldest for this slow reader
            queue.put_nowait(event)
