"""``cohort provision``: startup kits for every participant of a project file."""

from __future__ import annotations

from pathlib import Path

import click

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice
from cohort.cli.output import emit, err_console

__all__ = ["provision"]


@click.command("provision", cls=CohortCommand, mutating=True, idempotent=False)
@click.option(
    "-p",
    "--project-file",
    "project_file",
    type=click.Path(path_type=Path),
    default=Path("project.yml"),
    show_default=True,
    help="The project file (with --init: where to write the template).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path),
    default=Path("workspace"),
    show_default=True,
    help="Where the project's CA and prod_NN kit folders go.",
)
@click.option("--init", is_flag=True, help="Write a template project file and stop.")
@click.option("--force", is_flag=True, help="With --init: overwrite an existing file.")
@format_choice("txt", "json")
def provision(project_file: Path, workspace: Path, init: bool, force: bool, fmt: str) -> None:
    """Make a root CA (first run only) and a startup kit per participant in a new prod_NN."""
    from cohort.provision.project import load_project, write_template
    from cohort.provision.provisioner import provision as run

    if init:
        path = write_template(project_file, force=force)
        emit(
            fmt,
            {"project_file": str(path)},
            lambda: err_console.print(f"wrote a template project file: {path}"),
        )
        return
    made = run(load_project(project_file), workspace)
    data = {
        "project_dir": str(made.project_dir),
        "prod_dir": str(made.prod_dir),
        "ca_created": made.ca_created,
        "kits": {name: str(path) for name, path in made.kits.items()},
    }

    def human() -> None:
        ca = "new root CA" if made.ca_created else "existing root CA (earlier kits stay valid)"
        err_console.print(f"provisioned {len(made.kits)} startup kits in {made.prod_dir} ({ca})")
        for name, path in made.kits.items():
            err_console.print(f"  {name}: {path}")

    emit(fmt, data, human)
