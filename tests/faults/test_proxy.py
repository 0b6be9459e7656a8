"""The fault proxy itself, against a plain echo server on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.faults.proxy import Fault, FaultProxy

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A server that echoes everything it reads, one connection at a time."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(5)


def round_trip(port: int) -> bytes:
    """Send PAYLOAD through ``port`` and read back what comes (until the peer closes)."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(PAYLOAD)
            sock.shutdown(socket.SHUT_WR)
            while data := sock.recv(65536):
                got += data
        except OSError:
            pass
    return bytes(got)


def test_bytes_pass_unchanged_with_delay(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        proxy.faults.delay = 0.001
        assert round_trip(proxy.port) == PAYLOAD


def test_dropped_connections_then_clean(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        proxy.faults.drop = 1
        assert round_trip(proxy.port) == b""
        assert round_trip(proxy.port) == PAYLOAD
        assert proxy.faults.fired == {"drop": 1}


def test_cut_mid_body_after_n_bytes(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        proxy.faults.cuts = [Fault("down", 100_000)]
        got = round_trip(proxy.port)
        assert 0 < len(got) < len(PAYLOAD)
        assert got == PAYLOAD[: len(got)]  # what arrived is a prefix: cut, not damaged
        assert round_trip(proxy.port) == PAYLOAD  # the fault fired once
        assert proxy.faults.fired == {"cut-down": 1}


def test_corrupt_flips_one_byte(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        proxy.faults.corrupts = [Fault("up", 50_000)]
        got = round_trip(proxy.port)
        assert len(got) == len(PAYLOAD)
        assert sum(a != b for a, b in zip(got, PAYLOAD, strict=True)) == 1
        assert proxy.faults.fired == {"corrupt-up": 1}
