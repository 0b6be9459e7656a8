"""Pieces of the REST API that need no server: the rate limiter, durations, the event hub."""

from __future__ import annotations

import asyncio

import pytest

from cohort.cli.token import parse_duration
from cohort.errors import ErrorCode, InvalidRequest
from cohort.server.config import RateLimit
from cohort.server.notify import EventHub
from cohort.server.rest.ratelimit import RateLimiter
from cohort.server.rest.routes_models import _check_metrics


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_fixed_window_counts_down_refuses_then_resets() -> None:
    clock = Clock(1000.0)
    limiter = RateLimiter(clock)
    limit = RateLimit(requests=3, seconds=60)
    remaining = [limiter.hit("k", "general", limit)[0].remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    window, allowed = limiter.hit("k", "general", limit)
    assert not allowed and window.remaining == 0 and window.reset == 1020  # 960 + 60
    assert limiter.hit("other", "general", limit)[1]  # per key
    assert limiter.hit("k", "upload", limit)[1]  # per limit
    error = limiter.refuse("general", window)
    assert error.code == ErrorCode.RATE_LIMITED and error.http_status == 429
    assert error.details["retry_after"] == 20
    clock.now = 1020.0
    window, allowed = limiter.hit("k", "general", limit)
    assert allowed and window.remaining == 2 and window.reset == 1080


def test_window_headers() -> None:
    window, _ = RateLimiter(Clock(0.0)).hit("k", "g", RateLimit(requests=5, seconds=10))
    assert window.headers() == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "10",
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1209600), ("7", 7)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_never_and_bad_durations() -> None:
    assert parse_duration("never") is None
    for bad in ("", "0d", "-1h", "3y", "h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_event_hub_fans_out_and_drops_oldest_for_slow_readers() -> None:
    async def run() -> None:
        hub = EventHub(queue_size=2)
        fast, slow = hub.subscribe(), hub.subscribe()
        hub.publish({"type": "a"})
        assert (await fast.get())["type"] == "a"
        hub.publish({"type": "b"})
        hub.publish({"type": "c"})
        assert [slow.get_nowait()["type"] for _ in range(2)] == ["b", "c"]  # "a" was dropped
        assert [fast.get_nowait()["type"] for _ in range(2)] == ["b", "c"]
        hub.unsubscribe(fast)
        hub.publish({"type": "d"})
        assert fast.empty() and hub.subscribers == 1

    asyncio.run(run())


@pytest.mark.parametrize("text", ["[" * 100_000, "{", '{"loss": "x"}', "[1, 2]"])
def test_update_metrics_that_are_not_an_object_of_numbers(text: str) -> None:
    # Nesting deeper than the parser's stack is a 400 like any other bad JSON, not a 500.
    with pytest.raises(InvalidRequest) as info:
        _check_metrics(text)
    assert info.value.code == ErrorCode.INVALID_REQUEST
