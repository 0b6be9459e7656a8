"""``cohort job download``: fetch a finished job's result and find its consumable files."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import click

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice, kit_options, open_api, study_option
from cohort.cli.output import emit
from cohort.errors import CohortError, ErrorCode

__all__ = ["discover_artifacts", "download"]


@click.command("download", cls=CohortCommand, mutating=False, idempotent=False)
@click.argument("job_id")
@study_option
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to download into; the result lands in <output-dir>/<job_id> (default ./<job_id>).",
)
@click.option("--force", is_flag=True, help="Replace an existing local download.")
@kit_options
@format_choice("txt", "json")
def download(
    job_id: str,
    study: str,
    output_dir: Path | None,
    force: bool,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Download a finished job's result (the job must have ended; wait for it first)."""
    dest = ((output_dir or Path.cwd()) / job_id).resolve()
    if dest.exists() and not force:
        raise CohortError(
            f"{dest} already exists",
            code=ErrorCode.OUTPUT_DIR_EXISTS,
            hint="Use --force to replace it, or -o to download elsewhere.",
            details={"path": str(dest)},
        )
    # Into a fresh sibling first: a failed download never clobbers an existing one.
    partial = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open_api(kit_id, startup_kit) as api:
            api.download_result(job_id, partial, study=study)
        if dest.exists():
            shutil.rmtree(dest)
        partial.rename(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    data = {"job_id": job_id, "download_path": str(dest), "path": str(dest)}
    data.update(discover_artifacts(dest))
    emit(fmt, data, lambda: click.echo(str(dest)))


def discover_artifacts(dest: Path) -> dict[str, Any]:
    """Find the consumable files of a downloaded result (a local step after the download).

    ``artifacts`` maps a category to local paths; ``missing_artifacts`` names the expected
    categories that were not found. Without a local folder, discovery is ``skipped`` and both
    are null rather than claiming that something is absent.
    """
    if not dest.is_dir():
        return {"artifact_discovery": "skipped", "artifacts": None, "missing_artifacts": None}
    ws = dest / "workspace"
    found: dict[str, Any] = {}
    missing = []
    for key, rel in (
        ("global_model", "FL_global_model.safetensors"),
        ("metrics_summary", "metrics_summary.json"),
        ("server_log", "log.txt"),
    ):
        if (ws / rel).is_file():
            found[key] = str(ws / rel)
        else:
            missing.append(key)
    models = sorted((ws / "models").glob("round-*.safetensors"), key=_round_number)
    found["model_trail"] = [str(p) for p in models]
    # A site streamed log.txt or log.json (structured records): log.txt when it has both.
    clients = {p.parent.name: str(p) for p in sorted(ws.glob("*/log.json"))}
    clients.update({p.parent.name: str(p) for p in sorted(ws.glob("*/log.txt"))})
    found["client_logs"] = dict(sorted(clients.items()))
    if not clients:
        missing.append("client_logs")
    metrics = {p.parent.name: str(p) for p in sorted(ws.glob("*/metrics.jsonl"))}
    if metrics:
        found["client_metrics"] = metrics
    if (dest / "meta.json").is_file():
        found["meta"] = str(dest / "meta.json")
    return {"artifact_discovery": "completed", "artifacts": found, "missing_artifacts": missing}


def _round_number(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1
