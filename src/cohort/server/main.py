"""Running the server process: uvicorn over mutual TLS with the server's startup kit."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from cohort.logconfig import add_workspace_log
from cohort.provision.kit import load_kit
from cohort.server.app import create_app
from cohort.server.config import ServerConfig
from cohort.tls import IdentityH11Protocol, server_ssl_kwargs

__all__ = ["run_server"]


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
    uv_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=IdentityH11Protocol,
        ws="none",
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=75,
        # Long polls (tasks, commands, job waits) would hold a stop or restart for up to
        # their full wait; every client of them retries, so cut them short.
        timeout_graceful_shutdown=3,
        **server_ssl_kwargs(kit),
    )
    server = uvicorn.Server(uv_config)
    restart = False

    def stop(again: bool) -> None:
        # Called on the event loop (the session API's shutdown/restart): uvicorn then stops
        # accepting, ends the lifespan (job processes stopped, store closed) and returns.
        nonlocal restart
        restart = restart or again
        server.should_exit = True

    app.state.services.state.stop_server = stop
    server.run()
    if restart:  # the same command line again, in this process: same pid, fresh state
        logging.getLogger("cohort.server").info("restarting the server")
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606 - our own argv, no shell
