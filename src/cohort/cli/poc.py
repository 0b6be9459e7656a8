"""``cohort poc``: a whole federation on this machine, for trying things out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from cohort.cli.output import err_console, handle_errors

__all__ = ["poc"]

DEFAULT_WORKSPACE = Path("/tmp/cohort/poc")  # noqa: S108 - the documented default
workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path),
    default=DEFAULT_WORKSPACE,
    show_default=True,
    help="POC workspace folder.",
)


@click.group()
def poc() -> None:
    """Prepare, start, stop and clean a local proof-of-concept federation."""


@poc.command("prepare")
@click.option(
    "-n", "--number-of-sites", "n_sites", type=click.IntRange(1, 1000), default=2, show_default=True
)
@workspace_option
@click.option("--force", is_flag=True, help="Replace an existing workspace.")
@handle_errors
def prepare(n_sites: int, workspace: Path, force: bool) -> None:
    """Make a CA and startup kits for a server, N sites and an admin (the active kit)."""
    from cohort.admin.kits import register_kit
    from cohort.provision.poc import prepare_poc

    layout = prepare_poc(workspace, n_sites, force=force)
    register_kit("poc", layout.admin_kit)
    err_console.print(f"POC workspace ready in {layout.workspace} (server port {layout.port})")
    err_console.print(f"Admin kit {layout.admin_kit} is now the active startup kit.")


@poc.command("start")
@workspace_option
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True)
@handle_errors
def start(workspace: Path, timeout: float) -> None:
    """Start the server and every site in the background; return once all are connected."""
    from cohort.provision.poc import load_poc
    from cohort.provision.processes import start_poc

    began = time.monotonic()
    layout = load_poc(workspace)
    start_poc(layout, timeout=timeout)
    err_console.print(
        f"POC running: server on {layout.server_url}, {len(layout.site_kits)} sites connected "
        f"in {time.monotonic() - began:.1f} s"
    )


@poc.command("stop")
@workspace_option
@handle_errors
def stop(workspace: Path) -> None:
    """Stop every POC process."""
    from cohort.provision.poc import load_poc
    from cohort.provision.processes import stop_poc

    stopped = stop_poc(load_poc(workspace))
    err_console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@poc.command("clean")
@workspace_option
@handle_errors
def clean(workspace: Path) -> None:
    """Stop the POC if it runs and delete its workspace."""
    from cohort.provision.poc import load_poc
    from cohort.provision.processes import stop_poc

    if (workspace / "poc.json").exists():
        stop_poc(load_poc(workspace))
    shutil.rmtree(workspace, ignore_errors=True)
    err_console.print(f"removed {workspace}")
