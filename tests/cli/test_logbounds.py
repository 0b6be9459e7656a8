"""`cohort job logs` bounds: --since, then --tail, then --max-bytes, applied client-side."""

from __future__ import annotations

from datetime import datetime

import pytest

from cohort.cli.logbounds import (
    DEFAULT_TAIL,
    bound_log,
    line_time,
    parse_since,
    record_time,
    render_json_log,
)

LOG = (
    "2026-04-28 09:59:58,100 - cohort.job - INFO - starting\n"
    "2026-04-28 10:00:00,000 - cohort.job - INFO - round 1\n"
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1\n'
    "2026-04-28 10:00:01,500 - cohort.job - INFO - round 2\n"
    "2026-04-28 10:00:02,000 - cohort.job - INFO - done\n"
)


def test_since_keeps_timestamped_lines_at_or_after_with_their_continuations() -> None:
    out = bound_log(LOG, since=parse_since("2026-04-28T10:00:00"))
    assert out.text.splitlines() == LOG.splitlines()[1:]
    assert out.since_applied is True and out.truncated and out.lines == 5


def test_since_on_a_log_without_timestamps_returns_it_and_says_so() -> None:
    text = "site-1 round 1\nsite-1 round 2\n"
    out = bound_log(text, since=parse_since("2030-01-01"))
    assert out.text == text and out.since_applied is False and not out.truncated


def test_order_is_since_then_tail_then_max_bytes() -> None:
    since = parse_since("2026-04-28T10:00:00")
    out = bound_log(LOG, since=since, tail=3, max_bytes=60)
    # since drops line 1; tail keeps the last 3 of the remaining 5; max-bytes keeps whole
    # trailing lines within 60 bytes: only the last one.
    assert out.text == "2026-04-28 10:00:02,000 - cohort.job - INFO - done\n"
    # tail first, then since: would be a different result (tail 3 of all 6, then since).
    assert bound_log(LOG, tail=2).text.splitlines() == LOG.splitlines()[-2:]


def test_tail_and_max_bytes() -> None:
    assert bound_log(LOG, tail=0).text == ""
    out = bound_log(LOG, tail=1)
    assert out.lines == 1 and out.bytes == len(out.text.encode()) and out.truncated
    assert not bound_log(LOG, tail=100).truncated
    cut = bound_log("é" * 10, max_bytes=5)  # never splits a character
    assert cut.bytes <= 5 and cut.text == "éé"


def test_default_tail_is_500_lines() -> None:
    text = "".join(f"line {i}\n" for i in range(600))
    out = bound_log(text, tail=DEFAULT_TAIL)
    assert out.lines == 500 and out.text.startswith("line 100\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-04-28T10:00:00+00:00", datetime.fromisoformat("2026-04-28T10:00:00+00:00")),
        ("2026-04-28T10:00:00Z", datetime.fromisoformat("2026-04-28T10:00:00+00:00")),
        ("2026-04-28 10:00:00.5-07:00", datetime.fromisoformat("2026-04-28T10:00:00.5-07:00")),
    ],
)
def test_parse_since(value: str, expected: datetime) -> None:
    assert parse_since(value) == expected


def test_parse_since_refuses_garbage_and_reads_naive_as_local() -> None:
    with pytest.raises(ValueError):
        parse_since("yesterday")
    naive = parse_since("2026-04-28")
    assert naive.tzinfo is not None and naive.hour == 0
    assert line_time("no stamp here") is None
    assert line_time("[2026-04-28T10:00:00Z] x") == parse_since("2026-04-28T10:00:00Z")


JSON_LOG = (
    '{"time": "2026-04-28T09:59:58.100+00:00", "site": "site-1", "message": "starting"}\n'
    '{"time": "2026-04-28T10:00:00.000+00:00", "site": "site-1", "message": "round 1"}\n'
    "not a record\n"
    '{"time": "2026-04-28T10:00:01.500+00:00", "level": "INFO", "message": "round 2"}\n'
)


def test_log_json_since_reads_record_times_and_keeps_continuations() -> None:
    since = parse_since("2026-04-28T10:00:00+00:00")
    out = bound_log(JSON_LOG, since=since, stamp=record_time)
    assert out.text.splitlines() == JSON_LOG.splitlines()[1:]
    assert out.since_applied is True
    # The text stamp reader sees no timestamps in JSON records: nothing is filtered.
    assert bound_log(JSON_LOG, since=since).since_applied is False
    assert record_time("[1, 2]") is None and record_time('{"time": 5}') is None


def test_render_json_log_as_text() -> None:
    assert render_json_log(JSON_LOG).splitlines() == [
        "2026-04-28T09:59:58.100+00:00 starting",
        "2026-04-28T10:00:00.000+00:00 round 1",
        "not a record",
        "2026-04-28T10:00:01.500+00:00 INFO round 2",
    ]
