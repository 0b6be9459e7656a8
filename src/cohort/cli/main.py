"""The ``cohort`` command."""

from __future__ import annotations

import click

from cohort.cli.audit import audit
from cohort.cli.config import config
from cohort.cli.job import job
from cohort.cli.poc import poc
from cohort.cli.processes import server, site
from cohort.cli.provision import provision
from cohort.cli.recipe import recipe
from cohort.cli.simulate import simulate
from cohort.cli.site_admin import disable, enable
from cohort.cli.study import study
from cohort.cli.token import token

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cohort")
def cli() -> None:
    """Cohort: federated learning across sites that keep their data."""


cli.add_command(job)
cli.add_command(recipe)
cli.add_command(config)
cli.add_command(poc)
cli.add_command(provision)
cli.add_command(server)
cli.add_command(site)
site.add_command(enable)
site.add_command(disable)
cli.add_command(simulate)
cli.add_command(study)
cli.add_command(audit)
cli.add_command(token)


def main() -> None:
    """Entry point of the console script (also for ``python -m cohort.cli.main``)."""
    cli(prog_name="cohort")


if __name__ == "__main__":
    main()
