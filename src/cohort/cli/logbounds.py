"""Client-side bounds of ``cohort job logs``: ``--since``, then ``--tail``, then ``--max-bytes``.

They bound what the command prints, not what it asks the server for. Without any of them the
output is the last :data:`DEFAULT_TAIL` lines of each log. A ``log.json`` log is one JSON record
a line: its lines are records, and ``--since`` reads each record's ``time``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "DEFAULT_TAIL",
    "Bounded",
    "bound_log",
    "line_time",
    "parse_since",
    "record_time",
    "render_json_log",
]

DEFAULT_TAIL = 500
_STAMP = re.compile(
    r"^\[?(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d{1,6}))?\s?(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def _stamp(match: re.Match[str]) -> datetime:
    text = f"{match['date']}T{match['time']}"
    if match["frac"]:
        text += "." + match["frac"].ljust(6, "0")
    tz = match["tz"]
    if tz:
        text += "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.astimezone()  # naive: local time


def parse_since(value: str) -> datetime:
    """Parse ``--since``: ISO 8601 date or date and time, naive meaning local time."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00"
    match = _STAMP.match(text)
    if match is None or match.end() != len(text):
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp like 2026-04-28T10:00:00")
    return _stamp(match)


def line_time(line: str) -> datetime | None:
    """The timestamp a log line starts with, if it starts with one."""
    match = _STAMP.match(line)
    if match is None:
        return None
    try:
        return _stamp(match)
    except ValueError:
        return None


def _record(line: str) -> dict[str, object] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_time(line: str) -> datetime | None:
    """The ``time`` of a ``log.json`` record line, if it has a parseable one."""
    record = _record(line)
    stamp = record.get("time") if record else None
    return line_time(stamp) if isinstance(stamp, str) else None


def render_json_log(text: str) -> str:
    """``log.json`` records as readable text: ``time message`` a line (other lines as they
    are), for human output when a site streamed only JSON records."""
    out = []
    for line in text.splitlines():
        record = _record(line)
        if record is None or "message" not in record:
            out.append(line)
            continue
        stamp = str(record.get("time", ""))
        level = f" {record['level']}" if record.get("level") else ""
        out.append(f"{stamp}{level} {record['message']}".strip())
    return "".join(f"{line}\n" for line in out)


@dataclass
class Bounded:
    """One log after the bounds."""

    text: str
    lines: int
    bytes: int
    truncated: bool
    since_applied: bool | None  # None: no --since; False: the log has no parseable timestamps


def _since(
    lines: list[str], since: datetime, stamp: Callable[[str], datetime | None]
) -> tuple[list[str], bool]:
    """Timestamped lines at or after ``since``, with the continuation lines that follow them."""
    stamps = [stamp(line) for line in lines]
    if not any(stamps):
        return lines, False
    kept, include = [], False
    for line, when in zip(lines, stamps, strict=True):
        if when is not None:
            include = when >= since
        if include:
            kept.append(line)
    return kept, True


def _max_bytes(text: str, limit: int) -> str:
    """The newest ``limit`` UTF-8 bytes, starting at a line when one starts within them."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    cut = raw[len(raw) - limit :]
    newline = cut.find(b"\n")
    if 0 <= newline < len(cut) - 1:
        cut = cut[newline + 1 :]
    return cut.decode("utf-8", "ignore")


def bound_log(
    text: str,
    *,
    since: datetime | None = None,
    tail: int | None = None,
    max_bytes: int | None = None,
    stamp: Callable[[str], datetime | None] = line_time,
) -> Bounded:
    """Apply the bounds in the documented order: since, tail, max-bytes. ``stamp`` reads a
    line's time (:func:`record_time` for ``log.json``)."""
    lines = text.splitlines(keepends=True)
    total = len(lines)
    since_applied = None
    if since is not None:
        lines, since_applied = _since(lines, since, stamp)
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    out = "".join(lines)
    if max_bytes is not None:
        out = _max_bytes(out, max_bytes)
    kept_lines = len(out.splitlines())
    truncated = kept_lines < total or len(out) < len(text)
    return Bounded(
        text=out,
        lines=kept_lines,
        bytes=len(out.encode("utf-8")),
        truncated=truncated,
        since_applied=since_applied,
    )
