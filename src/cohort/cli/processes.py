"""``cohort server start`` and ``cohort site start``: the long-running processes."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import click

__all__ = ["server", "site"]


@click.group()
def server() -> None:
    """Run the Cohort server."""


@server.command("start")
@click.option(
    "--kit",
    "kit",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The server's startup kit folder.",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=Path("server-workspace"),
    show_default=True,
    help="Where the server keeps its database and artifacts.",
)
@click.option(
    "--db-url",
    default=None,
    help="SQLAlchemy URL; default SQLite in the workspace (COHORT_DB_URL also works).",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between site heartbeats.",
)
@click.option(
    "--site-dead-after",
    type=click.FloatRange(min=0.1),
    default=6.0,
    show_default=True,
    help="Seconds without a heartbeat before a site is lost.",
)
@click.option(
    "--job-log-streaming/--no-job-log-streaming",
    default=False,
    show_default=True,
    help="Stream every job's site logs to the server unless the job says otherwise "
    "(a global JobLogStreamer and JobLogReceiver; cohort poc start turns it on).",
)
def server_start(
    kit: Path,
    workspace: Path,
    db_url: str | None,
    heartbeat_interval: float,
    site_dead_after: float,
    job_log_streaming: bool,
) -> None:
    """Start the server in the foreground (stop it with Ctrl-C or SIGTERM)."""
    from cohort.server.config import ServerConfig
    from cohort.server.main import run_server

    run_server(
        ServerConfig(
            kit=kit,
            workspace=workspace.resolve(),
            db_url=db_url,
            heartbeat_interval=heartbeat_interval,
            site_dead_after=site_dead_after,
            job_log_streaming=job_log_streaming,
        )
    )


@click.group()
def site() -> None:
    """Run a site agent."""


@site.command("start")
@click.option(
    "--kit",
    "kit",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The site's startup kit folder.",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=Path("site-workspace"),
    show_default=True,
    help="Where the site keeps its jobs' files and logs.",
)
def site_start(kit: Path, workspace: Path) -> None:
    """Start the site agent in the foreground: it dials out to the server and runs jobs."""
    from cohort.site.agent import SiteAgent

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per heartbeat is noise
    agent = SiteAgent(kit, workspace.resolve())

    def _stop(*_: Any) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent.run()
