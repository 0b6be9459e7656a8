"""Running the server process: uvicorn over mutual TLS with the server's startup kit, and
optionally listeners for the REST API and the edge API (TLS without a client certificate).

Every listener runs in the same event loop over the same services, so REST and edge calls,
WebSocket events and the sites' long polls share one store, one notifier and one event hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Generator
from typing import Any

import uvicorn

from cohort.logconfig import add_workspace_log
from cohort.provision.kit import load_kit
from cohort.server.app import create_app
from cohort.server.config import ServerConfig
from cohort.server.identity_protocol import IdentityHttpToolsProtocol
from cohort.tls import server_ssl_kwargs

__all__ = ["run_server"]

try:
    # uvloop (a dependency where it builds, not on Windows): TLS and socket I/O in C rather
    # than asyncio's Python SSL protocol, which cost most of the API process's CPU per byte.
    from uvloop import run as _run_loop
except ImportError:  # pragma: no cover - platforms without uvloop
    from asyncio import run as _run_loop  # type: ignore[assignment]

#: WebSockets (for /ws/events) with the sans-I/O implementation of the websockets package.
WS = "websockets-sansio"


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`_serve_all`, which stops every listener
    (uvicorn's own handlers would each replace the other's)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_all(servers: list[_Listener], on_stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        on_stop()
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    main = asyncio.create_task(servers[0].serve())
    while not servers[0].started and not main.done():  # the lifespan (scheduler) starts first
        await asyncio.sleep(0.05)
    others = [asyncio.create_task(s.serve()) for s in servers[1:]]
    await main
    stop()
    await asyncio.gather(*others)


def run_server(config: ServerConfig) -> None:
    """Serve until SIGINT/SIGTERM. Blocks."""
    kit = load_kit(config.kit)
    host = config.host or kit.config.server_host
    port = config.port or kit.config.server_port
    # Job processes run on this machine: they call back over loopback with the server's kit.
    local = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1", "localhost") else host  # noqa: S104
    app = create_app(config.model_copy(update={"kit": kit.dir}), f"https://{local}:{port}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    add_workspace_log(config.workspace)
    common: dict[str, Any] = {
        # httptools and uvloop (uvicorn[standard]'s pieces): the C parser and event loop
        # spend a fraction of h11's and asyncio's CPU per byte of TLS on large models.
        "http": IdentityHttpToolsProtocol,
        "ws": WS,
        "log_level": "warning",
        "timeout_keep_alive": 75,
        # Long polls (tasks, commands, job waits) would hold a stop or restart for up to
        # their full wait; every client of them retries, so cut them short.
        "timeout_graceful_shutdown": 3,
    }
    tls = server_ssl_kwargs(kit)
    servers = [_Listener(uvicorn.Config(app, host=host, port=port, lifespan="on", **common, **tls))]
    # No client certificate on the REST and edge ports: callers prove who they are with
    # Bearer keys, and the certificate-only routes (/admin, /fleet, /internal) see no identity
    # and answer 401.
    keyed_tls = {**tls, "ssl_cert_reqs": ssl.CERT_NONE}
    keyed_tls.pop("ssl_ca_certs")
    for extra_app, extra_port in ((app, config.rest_port), (app.state.edge_app, config.edge_port)):
        if extra_port is not None:
            servers.append(
                _Listener(
                    uvicorn.Config(
                        extra_app,
                        host=host,
                        port=extra_port,
                        lifespan="off",
                        **common,
                        **keyed_tls,
                    )
                )
            )
    restart = False

    # Open long polls (every site's command poll, scripts' task polls, job waits) answer at
    # once when the server stops, rather than holding every stop and restart for the full
    # timeout_graceful_shutdown.
    stop_long_polls = app.state.services.state.notifier.stop_long_polls

    def stop(again: bool) -> None:
        # Called on the event loop (the session API's shutdown/restart): every listener stops
        # accepting, the lifespan ends (job processes stopped, store closed) and run returns.
        nonlocal restart
        restart = restart or again
        stop_long_polls()
        for server in servers:
            server.should_exit = True

    app.state.services.state.stop_server = stop
    _run_loop(_serve_all(servers, stop_long_polls))
    if restart:  # the same command line again, in this process: same pid, fresh state
        logging.getLogger("cohort.server").info("restarting the server")
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606 - our own argv, no shell
