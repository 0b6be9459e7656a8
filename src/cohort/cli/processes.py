"""``cohort server start`` and ``cohort site start``: the long-running processes."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cohort.server.config import RateLimits

__all__ = ["parse_rate_limits", "server", "site"]


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
@click.option(
    "--rest-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also serve the REST API (/api/v1, /ws/events) on this port, over TLS without a "
    "client certificate (Bearer API keys). Off by default.",
)
@click.option(
    "--edge-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also serve the edge API (seed 004, the scaleout client's dialect; 8092 by "
    "convention) on this port, over TLS without a client certificate. Off by default.",
)
@click.option(
    "--rate-limit",
    "rate_limits",
    multiple=True,
    metavar="NAME=N/SECONDS",
    help="A REST rate limit per API key: general, upload or training_start (defaults "
    "100/60, 10/60, 5/3600), or websocket_connections=N (default 1). Repeatable.",
)
def server_start(
    kit: Path,
    workspace: Path,
    db_url: str | None,
    heartbeat_interval: float,
    site_dead_after: float,
    job_log_streaming: bool,
    rest_port: int | None,
    edge_port: int | None,
    rate_limits: tuple[str, ...],
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
            rest_port=rest_port,
            edge_port=edge_port,
            rate_limits=parse_rate_limits(rate_limits),
        )
    )


def parse_rate_limits(items: tuple[str, ...]) -> RateLimits:
    """``general=100/60`` ... -> RateLimits (the seed's defaults for what is not given)."""
    from cohort.server.config import RateLimits

    values: dict[str, Any] = {}
    for item in items:
        name, _, spec = item.partition("=")
        try:
            if name == "websocket_connections":
                values[name] = int(spec)
            else:
                count, _, seconds = spec.partition("/")
                values[name] = {"requests": int(count), "seconds": float(seconds)}
        except ValueError:
            raise click.BadParameter(f"{item!r} is not NAME=N/SECONDS") from None
    try:
        return RateLimits.model_validate(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


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
