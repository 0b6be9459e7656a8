"""A fault-injecting TCP proxy on loopback, for tests of transfers under network faults.

Sites are pointed at the proxy's port instead of the server's; bytes pass through unchanged
(TLS included) except where a fault says otherwise:

- ``delay``: seconds of added latency before every forwarded block;
- ``drop``: the next N new connections are closed at once;
- ``cut``: a connection is closed once it has carried more than N bytes in one direction
  (``"down"``: server to site, a model download; ``"up"``: site to server, an upload);
- ``corrupt``: one byte is flipped once a connection has carried N bytes in one direction.
  Under TLS this cannot reach the application as bad data: the record's MAC fails and the
  receiver sees a broken connection, which is what a test of it observes.

Each fault of ``cut`` and ``corrupt`` fires a given number of times, then the proxy is clean.
Every socket and thread is closed by :meth:`FaultProxy.stop` (a context manager).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["up", "down"]
_BLOCK = 64 * 1024


@dataclass
class Fault:
    """One kind of damage: after ``after`` bytes in ``direction``, ``times`` times."""

    direction: Direction
    after: int
    times: int = 1


@dataclass
class Faults:
    """What the proxy does; tests may change it while traffic flows (under ``lock``)."""

    delay: float = 0.0
    drop: int = 0
    cuts: list[Fault] = field(default_factory=list)
    corrupts: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: How many of each fault fired: "drop", "cut-up", "cut-down", "corrupt-up", ...
    fired: dict[str, int] = field(default_factory=dict)

    def take(self, faults: list[Fault], direction: Direction, carried: int) -> bool:
        """Whether one of ``faults`` fires now (and use it up)."""
        with self.lock:
            for fault in faults:
                if fault.direction == direction and fault.times > 0 and carried > fault.after:
                    fault.times -= 1
                    return True
        return False

    def count(self, name: str) -> None:
        """Record that a fault fired."""
        with self.lock:
            self.fired[name] = self.fired.get(name, 0) + 1


class _Pair:
    """A site's connection and the proxy's connection to the server."""

    def __init__(self, site: socket.socket, server: socket.socket, faults: Faults) -> None:
        self.site, self.server, self.faults = site, server, faults
        self.closed = threading.Event()
        self._ended = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close both sockets (both pumps then stop)."""
        self.closed.set()
        for sock in (self.site, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _end(self, dst: socket.socket) -> None:
        # One side finished sending: pass the half-close on; close when both have.
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with self._lock:
            self._ended += 1
            both = self._ended == 2
        if both:
            self.close()

    def pump(self, src: socket.socket, dst: socket.socket, direction: Direction) -> None:
        """Forward ``src`` to ``dst``, applying the faults of ``direction``."""
        carried = 0
        corrupted = False
        try:
            while not self.closed.is_set():
                data = src.recv(_BLOCK)
                if not data:
                    self._end(dst)
                    return
                if self.faults.delay:
                    time.sleep(self.faults.delay)
                carried += len(data)
                if not corrupted and self.faults.take(self.faults.corrupts, direction, carried):
                    corrupted = True
                    flipped = bytearray(data)
                    flipped[len(flipped) // 2] ^= 0xFF
                    data = bytes(flipped)
                    self.faults.count(f"corrupt-{direction}")
                if self.faults.take(self.faults.cuts, direction, carried):
                    self.faults.count(f"cut-{direction}")
                    # Forward part of the block, then cut: the receiver sees a body cut short.
                    with contextlib.suppress(OSError):
                        dst.sendall(data[: len(data) // 2])
                    break
                dst.sendall(data)
        except OSError:
            pass
        self.close()


class FaultProxy:
    """Listen on 127.0.0.1 (a free port) and forward every connection to ``target``."""

    def __init__(self, target_port: int, faults: Faults | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.faults = faults or Faults()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[_Pair] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                site, _ = self._listener.accept()
            except OSError:
                return
            with self.faults.lock:
                drop = self.faults.drop > 0
                if drop:
                    self.faults.drop -= 1
            if drop:
                self.faults.count("drop")
                site.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                site.close()
                continue
            pair = _Pair(site, server, self.faults)
            self._pairs.append(pair)
            for src, dst, direction in ((site, server, "up"), (server, site, "down")):
                thread = threading.Thread(target=pair.pump, args=(src, dst, direction), daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Close the listener and every connection; wait for the threads."""
        self._stopping.set()
        self._listener.close()
        self._accepter.join(5)
        for pair in list(self._pairs):
            pair.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
