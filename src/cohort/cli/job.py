"""``cohort job``: submit, list and inspect jobs, and abort, clone or delete them.

Waiting (``wait``, ``monitor``), observing (``logs``, ``log-config``, ``stats``), downloading and
the deprecated commands live in sibling modules; this one assembles the group.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from cohort.cli.command import CohortCommand, OrderedGroup, confirm_or_refuse
from cohort.cli.job_download import download
from cohort.cli.job_legacy import create, list_templates, show_variables
from cohort.cli.job_observe import log_config, logs, stats
from cohort.cli.job_watch import monitor, wait
from cohort.cli.options import format_choice, kit_options, open_api, study_option
from cohort.cli.output import emit, err_console, out_console
from cohort.cli.views import display_status, job_view, jobs_table, print_job_summary
from cohort.errors import CohortError, ErrorCode
from cohort.schemas.admin import SUBMIT_TOKEN_MAX, is_study_name, is_submit_token
from cohort.states import JobStatus

__all__ = ["job"]


@click.group(cls=OrderedGroup)
def job() -> None:
    """Submit, watch and manage jobs with an admin startup kit.

    Typical flow: export a job folder (python job.py --export --export-dir DIR), submit it
    (cohort job submit -j DIR), wait for it (cohort job wait ID) or watch it
    (cohort job monitor ID), then inspect (meta, stats, logs) and download it.
    """


def _check_token(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_submit_token(value):
        raise click.BadParameter(
            f"must be 1-{SUBMIT_TOKEN_MAX} characters of letters, digits, '.', '_', ':' or '-'"
        )
    return value


def _check_study(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not is_study_name(value):
        raise click.BadParameter(
            f"{value!r} is not a study name (1-64 letters, digits, '.', '_', '-'; not 'all')"
        )
    return value


def _refuse_config_file(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    if value:
        raise click.BadParameter(
            "submit-time config overrides are not supported; edit the exported job files "
            "before submitting"
        )
    return value


submit_token_option = click.option(
    "--submit-token",
    default=None,
    callback=_check_token,
    help="Caller-generated token (e.g. uuidgen) that makes retrying this submit safe.",
)


@job.command("submit", cls=CohortCommand, mutating=True, idempotent=False, retry_token=True)
@click.option(
    "-j",
    "--job_folder",
    "--job-folder",
    "job_folder",
    type=click.Path(path_type=Path),
    default=Path("./current_job"),
    show_default=True,
    help="The job folder (holding meta.json), or a zip of it.",
)
@click.option(
    "--study",
    default="default",
    show_default=True,
    callback=_check_study,
    help="Study (job namespace) to submit into.",
)
@submit_token_option
@click.option(
    "-debug", "--debug", is_flag=True, help="Keep the temporary copy of the job for inspection."
)
@click.option(
    "-f",
    "--config_file",
    "config_file",
    multiple=True,
    hidden=True,
    expose_value=False,
    callback=_refuse_config_file,
)
@kit_options
@format_choice("txt", "json")
def submit(
    job_folder: Path,
    study: str,
    submit_token: str | None,
    debug: bool,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Submit a job folder; prints the job id at once (does not wait for the job)."""
    if not job_folder.exists():
        raise CohortError(
            f"job folder {job_folder} does not exist",
            code=ErrorCode.INVALID_ARGS,
            hint="Pass the folder that holds meta.json with -j (export one with "
            "python job.py --export --export-dir DIR).",
        )
    from cohort.admin.api import pack_job

    data = pack_job(job_folder)
    debug_dir = None
    if debug:
        debug_dir = Path(tempfile.mkdtemp(prefix="cohort-submit-"))
        if job_folder.is_dir():
            shutil.copytree(job_folder, debug_dir / job_folder.resolve().name)
        (debug_dir / "job.zip").write_bytes(data)
        err_console.print(f"kept the submitted copy in {debug_dir}")
    with open_api(kit_id, startup_kit) as api:
        reply = api.submit(data, study, submit_token)
    result = reply.model_dump()
    if submit_token is not None:
        result["submit_token"] = submit_token
    if debug_dir is not None:
        result["debug_folder"] = str(debug_dir)

    def human() -> None:
        if not reply.created:
            err_console.print(
                f"submit token {submit_token} was already used for this content: job "
                f"{reply.job_id} (not submitted again)"
            )
        else:
            err_console.print(f"submitted job {reply.job_id} to study {reply.study}")
        click.echo(reply.job_id)

    emit(fmt, result, human)


@job.command("list", cls=CohortCommand)
@click.option("-n", "--name", default=None, help="Job name prefix.")
@click.option("-i", "--id", "id_prefix", default=None, help="Job id prefix.")
@click.option("-r", "--reverse", is_flag=True, help="Reverse the order (newest first).")
@click.option(
    "-m", "--max", "limit", type=click.IntRange(min=1), default=None, help="At most this many."
)
@click.option(
    "--study",
    default="default",
    show_default=True,
    help='Study to list; "all" lists every study.',
)
@click.option(
    "--submit-token",
    default=None,
    callback=_check_token,
    help="Find the job a retry-safe submit with this token created in the study.",
)
@kit_options
@format_choice("txt", "json")
def list_jobs(
    name: str | None,
    id_prefix: str | None,
    reverse: bool,
    limit: int | None,
    study: str,
    submit_token: str | None,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """List jobs on the server (oldest first)."""
    with open_api(kit_id, startup_kit) as api:
        jobs = api.list_jobs(
            name_prefix=name,
            id_prefix=id_prefix,
            reverse=reverse,
            limit=limit,
            study=study,
            submit_token=submit_token,
        )
    data = {"study": study, "count": len(jobs), "jobs": [job_view(j) for j in jobs]}
    if submit_token is not None:
        data["submit_token"] = submit_token
        data["job_id"] = jobs[0].job_id if jobs else None

    def human() -> None:
        if not jobs:
            err_console.print(
                f"no job with submit token {submit_token} in study {study}"
                if submit_token
                else f"no jobs in study {study}"
            )
            return
        out_console().print(jobs_table(jobs))

    emit(fmt, data, human)


@job.command("meta", cls=CohortCommand)
@click.argument("job_id")
@study_option
@kit_options
@format_choice("txt", "json")
def meta(job_id: str, study: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """Show a job's metadata: identity, lifecycle and status (JSON: the full record)."""
    with open_api(kit_id, startup_kit) as api:
        record = api.get_job(job_id, study=study)
    emit(fmt, job_view(record), lambda: print_job_summary(record, out_console()))


@job.command("abort", cls=CohortCommand, mutating=True, idempotent=True)
@click.argument("job_id")
@study_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@kit_options
@format_choice("txt", "json")
def abort(
    job_id: str,
    study: str,
    force: bool,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Abort a running job and every process of it (no effect once it has ended)."""
    confirm_or_refuse(f"Abort job {job_id}?", force, f"abort job {job_id}")
    with open_api(kit_id, startup_kit) as api:
        before = api.get_job(job_id, study=study)
        record = api.abort_job(job_id, study=study)
    aborted = before.status != record.status and record.status == JobStatus.ABORTED
    data = {**job_view(record), "aborted": aborted}

    def human() -> None:
        if aborted:
            click.echo(f"job {job_id}: aborted")
        else:
            click.echo(f"job {job_id} had already ended: {display_status(record.status)}")

    emit(fmt, data, human)


@job.command("delete", cls=CohortCommand, mutating=True, idempotent=False)
@click.argument("job_id")
@study_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@kit_options
@format_choice("txt", "json")
def delete(
    job_id: str,
    study: str,
    force: bool,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Delete a job on the server and on its sites (a running job is aborted first)."""
    confirm_or_refuse(f"Delete job {job_id} and all its results?", force, f"delete job {job_id}")
    with open_api(kit_id, startup_kit) as api:
        reply = api.delete_job(job_id, study=study)

    def human() -> None:
        note = " (aborted first)" if reply.aborted_first else ""
        click.echo(f"job {job_id}: deleted{note}")
        if reply.submit_records_marked_deleted:
            err_console.print(
                f"{reply.submit_records_marked_deleted} submit-token record(s) now answer "
                "SUBMIT_TOKEN_JOB_DELETED"
            )

    emit(fmt, reply.model_dump(), human)


@job.command("clone", cls=CohortCommand, mutating=True, idempotent=False)
@click.argument("job_id")
@study_option
@kit_options
@format_choice("txt", "json")
def clone(job_id: str, study: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """Submit an existing job again (its stored job folder) as a new job."""
    with open_api(kit_id, startup_kit) as api:
        reply = api.clone_job(job_id, study=study)

    def human() -> None:
        err_console.print(f"cloned job {job_id} as a new job in study {reply.study}")
        click.echo(reply.new_job_id)

    emit(fmt, reply.model_dump(), human)


# Help lists the commands in the order of the job command line's documentation.
_ORDER = [
    submit,
    wait,
    monitor,
    list_jobs,
    abort,
    meta,
    logs,
    log_config,
    stats,
    download,
    clone,
    delete,
    list_templates,
    create,
    show_variables,
]
# `cohort job -h` lists each command with the line the job command line documents for it.
_SHORT_HELP = {
    "submit": "submit job",
    "wait": "wait for a job and return one final JSON envelope",
    "monitor": "wait for a job and stream progress to stderr",
    "list": "list jobs on the server",
    "abort": "abort a running job",
    "meta": "get metadata for a job",
    "logs": "retrieve job logs from the server-side log store",
    "log-config": "change logging configuration for a running job",
    "stats": "show running job statistics",
    "download": "download job result",
    "clone": "clone an existing job",
    "delete": "delete a job",
    "list_templates": "[DEPRECATED] use 'cohort recipe list'",
    "create": "[DEPRECATED] use 'python job.py --export --export-dir <job_folder>' + "
    "'cohort job submit -j <job_folder>'",
    "show_variables": "[DEPRECATED] use 'cohort recipe list' or the Job Recipe API",
}
job.commands.clear()
for _command in _ORDER:
    assert _command.name is not None
    _command.short_help = _SHORT_HELP[_command.name]
    job.add_command(_command)
