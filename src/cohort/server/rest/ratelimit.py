"""Rate limits per API key: fixed windows counted in the API process, reported with
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` on every response.

The counts live in memory: the server has exactly one API process (see notify.py), and a
restart forgiving the current window is harmless.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cohort.errors import ErrorCode, RateLimited
from cohort.server.config import RateLimit

__all__ = ["HEADERS_KEY", "RateLimitHeaders", "RateLimiter", "Window"]

#: Where a request's rate-limit headers wait (in ``scope["state"]``) for the response.
HEADERS_KEY = "rate_limit_headers"


@dataclass(frozen=True)
class Window:
    """Where one key stands in one limit's current window."""

    limit: int
    remaining: int
    reset: int  # Unix time the window ends

    def headers(self) -> dict[str, str]:
        """The three X-RateLimit headers."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Fixed-window counters per (key, limit name)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, key: str, name: str, limit: RateLimit) -> tuple[Window, bool]:
        """Count one request; return the window after it and whether it was allowed."""
        now = self.clock()
        start = math.floor(now / limit.seconds) * limit.seconds
        seen_start, count = self._counts.get((key, name), (start, 0))
        if seen_start != start:
            count = 0
        allowed = count < limit.requests
        if allowed:
            count += 1
        self._counts[(key, name)] = (start, count)
        reset = math.ceil(start + limit.seconds)
        return Window(limit.requests, max(limit.requests - count, 0), reset), allowed

    def refuse(self, name: str, window: Window) -> RateLimited:
        """RATE_LIMITED for a request over ``name``'s limit."""
        wait = max(window.reset - int(self.clock()), 0)
        return RateLimited(
            f"rate limit {name!r} reached: {window.limit} requests per window",
            ErrorCode.RATE_LIMITED,
            hint=f"Retry after {wait} s (X-RateLimit-Reset).",
            details={"limit": name, "retry_after": wait, "reset": window.reset},
        )


class RateLimitHeaders:
    """ASGI middleware: add the headers a route's auth left in ``scope["state"]`` to its
    response, errors (401 excepted, there is no key) and 429 included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                window: Window | None = scope.get("state", {}).get(HEADERS_KEY)
                if window is not None:
                    extra = [(k.lower().encode(), v.encode()) for k, v in window.headers().items()]
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
