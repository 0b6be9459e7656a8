"""``cohort simulate``: run a job folder with N virtual sites on this machine, no server needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, cast

import click
from rich.console import Console
from rich.table import Table

from cohort.cli.output import emit, err_console, format_option, handle_errors
from cohort.errors import ErrorCode, InvalidRequest

__all__ = ["simulate"]

Backend = Literal["threads", "processes", "ray"]


def _site_names(n_sites: int | None, clients: str | None) -> tuple[int, list[str] | None]:
    names = [c.strip() for c in clients.split(",") if c.strip()] if clients else None
    if names is not None:
        if n_sites is not None and n_sites != len(names):
            raise InvalidRequest(
                f"-n {n_sites} does not match the {len(names)} names given with -c",
                ErrorCode.INVALID_ARGS,
                hint="Give either -n N (sites site-1..site-N) or -c with the names.",
            )
        return len(names), names
    if n_sites is None:
        raise InvalidRequest(
            "how many sites? give -n N, or -c with their names",
            ErrorCode.INVALID_ARGS,
            hint="For example: cohort simulate -j examples/hello-numpy/job -n 3",
        )
    return n_sites, None


def _rounds_table(data: dict[str, Any]) -> Table:
    keys = sorted({k for r in data["rounds"] for k in r["metrics"]})
    table = Table(title=f"{data['status']}: {data['reason']}", title_justify="left")
    table.add_column("round", justify="right")
    table.add_column("updates", justify="right")
    table.add_column("samples", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    for r in data["rounds"]:
        values = [f"{r['metrics'][k]:.4f}" if k in r["metrics"] else "" for k in keys]
        table.add_row(str(r["round"]), str(r["num_updates"]), str(r["num_samples"]), *values)
    return table


@click.command("simulate")
@click.option(
    "-j",
    "--job",
    "--job_folder",
    "job_folder",
    type=click.Path(path_type=Path),
    required=True,
    help="The job folder (the one holding meta.json).",
)
@click.option(
    "-n",
    "--n-sites",
    "--n_clients",
    "n_sites",
    type=click.IntRange(min=1),
    default=None,
    help="Number of virtual sites, named site-1..site-N.",
)
@click.option(
    "-c", "--clients", default=None, help="Comma-separated site names (instead of site-1..N)."
)
@click.option(
    "-t",
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Sites working at once.  [default: min(N, CPU count)]",
)
@click.option(
    "--backend",
    type=click.Choice(["threads", "processes", "ray"]),
    default="threads",
    show_default=True,
    help="threads: sites are threads of this process; processes: sites spread over "
    "THREADS worker processes; ray: over THREADS Ray actors (cohort[ray] extra; RAY_ADDRESS "
    "picks a cluster, else a local Ray runs for the job).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of global RNGs.")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Where models, logs and the result go.  [default: <tmp>/cohort/simulate/<job>]",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr.  [default: when stderr is a terminal]",
)
@format_option
@handle_errors
def simulate(
    job_folder: Path,
    n_sites: int | None,
    clients: str | None,
    threads: int | None,
    backend: str,
    seed: int,
    workspace: Path | None,
    progress: bool | None,
    fmt: str,
) -> None:
    """Run a job with N virtual sites in this machine: the same workflow and the same client
    script as on a real federation, without a server or network. Exits 1 unless the job
    finishes OK."""
    from cohort.simulate import simulate as run_simulation  # numpy & co: only when used

    count, names = _site_names(n_sites, clients)
    result = run_simulation(
        job_folder,
        count,
        threads=threads,
        backend=cast(Backend, backend),  # click.Choice checked it
        seed=seed,
        workspace=workspace,
        site_names=names,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    data = result.to_dict()

    def human() -> None:
        out = Console(highlight=False, soft_wrap=True)
        out.print(_rounds_table(data))
        for error in data["site_errors"][:10]:
            out.print(f"[red]{error['site']}[/red]: {error['error']}", markup=True)
        if len(data["site_errors"]) > 10:
            out.print(f"... and {len(data['site_errors']) - 10} more site failures")
        out.print(f"result: {data['result_dir']}")
        err_console.print(
            f"{data['n_sites']} sites, {data['threads']} at a time ({data['backend']}): "
            f"{data['wall_seconds']:.1f} s, peak RSS {data['peak_rss_mb']:.0f} MB"
        )

    emit(fmt, data, human, exit_code=0 if result.ok else 1)
