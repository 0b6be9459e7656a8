"""Per-site output: ``print`` in a site's thread lands in that site's log, as on a real site.

:func:`routed_output` swaps ``sys.stdout`` and ``sys.stderr`` for proxies that look up the
calling thread: a site thread writes to its :class:`SiteLog`, any other thread to the original
stream. A site's stderr goes to the same log, as the site agent merges them too.
"""

from __future__ import annotations

import collections
import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

__all__ = ["SiteLog", "routed_output", "site_output"]

_TAIL_LINES = 40  # as the site agent: the failure report carries the last lines of output
_BUFFER_CHARS = 64 * 1024
_route = threading.local()


class SiteLog:
    """A site's log file, appended to in chunks; remembers the last lines for failure reports.

    The file is opened only to append a chunk, so a thousand idle sites hold no descriptors.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._buffer: list[str] = []
        self._size = 0
        self._partial = ""
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, text: str) -> int:
        """Buffer ``text``; written to the file on :meth:`flush` or when the buffer fills."""
        self._buffer.append(text)
        self._size += len(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()[-4096:]
        self.tail.extend(line + "\n" for line in lines[-_TAIL_LINES:])
        if self._size >= _BUFFER_CHARS:
            self.flush()
        return len(text)

    def flush(self) -> None:
        """Append what is buffered to the file."""
        if self._buffer:
            with self.path.open("a", encoding="utf-8", errors="replace") as fh:
                fh.write("".join(self._buffer))
            self._buffer.clear()
            self._size = 0

    def last_line(self) -> str:
        """The last non-empty line written (a traceback's last line after a crash)."""
        if self._partial.strip():
            return self._partial.strip()
        return next((line.strip() for line in reversed(self.tail) if line.strip()), "")

    def tail_text(self) -> str:
        """The last lines written, as one string."""
        return "".join(self.tail) + self._partial


class _RoutedStream(io.TextIOBase):
    """Writes to the calling thread's site log, or to ``fallback`` outside site threads."""

    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        log: SiteLog | None = getattr(_route, "log", None)
        if log is not None:
            return log.write(text)
        return self.fallback.write(text)

    def flush(self) -> None:
        log: SiteLog | None = getattr(_route, "log", None)
        if log is not None:
            log.flush()
        else:
            self.fallback.flush()

    def isatty(self) -> bool:
        return getattr(_route, "log", None) is None and self.fallback.isatty()

    def fileno(self) -> int:
        return self.fallback.fileno()

    def writable(self) -> bool:
        return True


_install_lock = threading.Lock()
_installed = 0
_saved: tuple[TextIO, TextIO] | None = None


@contextlib.contextmanager
def routed_output() -> Iterator[None]:
    """Route ``sys.stdout``/``sys.stderr`` by thread for the duration (re-entrant)."""
    global _installed, _saved
    with _install_lock:
        if _installed == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = cast(TextIO, _RoutedStream(sys.stdout))
            sys.stderr = cast(TextIO, _RoutedStream(sys.stderr))
        _installed += 1
    try:
        yield
    finally:
        with _install_lock:
            _installed -= 1
            if _installed == 0 and _saved is not None:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                sys.stdout, sys.stderr = _saved
                _saved = None


@contextlib.contextmanager
def site_output(log: SiteLog) -> Iterator[None]:
    """Send what the calling thread prints to ``log`` (needs :func:`routed_output`)."""
    _route.log = log
    try:
        yield
    finally:
        _route.log = None
        log.flush()
