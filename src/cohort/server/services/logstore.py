"""The server's job log store: where streamed site logs live, and whether a site streams.

A site's job log is streamed only when the job has both halves of log streaming:

* a **streamer** for the site: a ``JobLogStreamer`` component in the site's client app
  (``components`` of ``config_fed_client.json``), which also chooses ``log.txt`` or
  ``log.json``;
* a **receiver** on the server: a ``JobLogReceiver`` component in the job's server app.

A server started with ``job_log_streaming`` (the POC does this) supplies both by default, as
a global streamer and receiver: every job's sites stream ``log.txt`` unless the job chooses
otherwise. ``"log_streaming": false`` in ``meta.json`` turns streaming off whatever else says;
``true`` asks for that default for this job on any server.

Layout in the artifact store, as the job workspace the seed describes::

    jobs/<job id>/logs/server.log            the server job process's output
    jobs/<job id>/workspace/<site>/log.txt   a site's streamed output (or log.json)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cohort.jobfolder import CLIENT_CONFIG, SERVER_CONFIG
from cohort.schemas.job import (
    LOG_FILE_NAMES,
    ClientAppConfig,
    JobMeta,
    LogFileName,
    ServerAppConfig,
)
from cohort.schemas.records import JobRecord
from cohort.server.services.jobs import job_dir
from cohort.server.state import ServerState

__all__ = [
    "SITE_LOGS_DIR",
    "StreamPlan",
    "server_log_key",
    "site_log_key",
    "stored_site_logs",
    "stream_plan",
]

#: Folder of the job's streamed site logs, under the job's artifact folder.
SITE_LOGS_DIR = "workspace"
_Config = TypeVar("_Config", ClientAppConfig, ServerAppConfig)


def server_log_key(job_id: str) -> str:
    """Artifact key of the server job process's log."""
    return f"{job_dir(job_id)}/logs/server.log"


def site_log_key(job_id: str, site: str, file: LogFileName) -> str:
    """Artifact key of a site's streamed log (``workspace/<site>/log.txt`` or ``log.json``)."""
    return f"{job_dir(job_id)}/{SITE_LOGS_DIR}/{site}/{file}"


def stored_site_logs(state: ServerState, job_id: str) -> dict[str, list[LogFileName]]:
    """Sites with stored log content, and which of the two files each has."""
    root = state.artifacts.path(f"{job_dir(job_id)}/{SITE_LOGS_DIR}")
    found: dict[str, list[LogFileName]] = {}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            files = [f for f in LOG_FILE_NAMES if (folder / f).is_file()]
            if files:
                found[folder.name] = files
    return found


@dataclass(frozen=True)
class StreamPlan:
    """Whether one site streams its job log, as which file, or why not."""

    file: LogFileName | None
    reason: str = ""


def stream_plan(state: ServerState, record: JobRecord, site: str) -> StreamPlan:
    """Decide from the job's stored folder and the server's default (see the module doc)."""
    meta = JobMeta.model_validate(record.meta)
    if meta.log_streaming is False:
        return StreamPlan(
            None, "log streaming is off for this job (meta.json log_streaming: false)"
        )
    app = meta.client_app_for(site)
    if app is None or site not in record.sites:
        return StreamPlan(None, "the site was not dispatched this job")
    folder = state.artifacts.path(f"{job_dir(record.job_id)}/job")
    client = _read(folder / app / CLIENT_CONFIG, ClientAppConfig)
    server_app = meta.server_app()
    server = _read(folder / server_app / SERVER_CONFIG, ServerAppConfig) if server_app else None
    # "log_streaming": true in meta.json opts the job into the global streamer and receiver.
    default = state.config.job_log_streaming or meta.log_streaming is True
    streamer = client.log_streamer() if client else None
    receiver = bool(server and server.log_receiver())
    if streamer is None and not default:
        return StreamPlan(
            None,
            "the job has no JobLogStreamer for this site and the server streams job logs by "
            "default only in a POC (cohort server start --job-log-streaming)",
        )
    if not receiver and not default:
        return StreamPlan(None, "the job has a JobLogStreamer but no JobLogReceiver on the server")
    return StreamPlan(streamer.log_file_name if streamer else "log.txt")


def _read(path: Path, kind: type[_Config]) -> _Config | None:
    # The folder was validated at submit; a file gone since then means "no components".
    try:
        return kind.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None
