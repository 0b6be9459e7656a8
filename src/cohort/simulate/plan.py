"""Before a simulation runs: the job checked as the server checks it, the workspace, the sites."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cohort.errors import ErrorCode, InvalidRequest
from cohort.jobfolder import JobFolder, extract_job_zip, validate_job_zip, zip_job_folder
from cohort.schemas.job import _NAME as SITE_NAME
from cohort.schemas.job import ClientAppConfig, ServerAppConfig
from cohort.simulate.site import SiteScript

__all__ = ["BACKENDS", "MARKER", "SimulationPlan", "default_workspace", "plan_simulation"]

BACKENDS = ("threads", "processes", "ray")
#: File that marks a folder as a simulation workspace, which a new run may clear.
MARKER = ".cohort-simulate"


@dataclass(frozen=True)
class SimulationPlan:
    """Everything a run needs, checked."""

    folder: JobFolder
    job_sha256: str
    workspace: Path
    job_root: Path
    sites: list[str]
    min_clients: int
    client: ClientAppConfig
    client_app_dir: Path
    server_app_dir: Path
    server_config: ServerAppConfig
    threads: int
    backend: str

    def script(self) -> SiteScript:
        """The client app's script, compiled."""
        return SiteScript.load(self.client_app_dir, self.client)


def default_workspace(job_name: str) -> Path:
    """``<tmp>/cohort/simulate/<job name>``, as NVIDIA FLARE's simulator uses /tmp/nvflare."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_name) or "job"
    return Path(tempfile.gettempdir()) / "cohort" / "simulate" / safe


def _site_names(n_sites: int, site_names: list[str] | None) -> list[str]:
    if n_sites < 1:
        raise InvalidRequest(f"n_sites must be at least 1, not {n_sites}", ErrorCode.INVALID_ARGS)
    if site_names is None:
        return [f"site-{i}" for i in range(1, n_sites + 1)]
    if len(site_names) != n_sites:
        raise InvalidRequest(
            f"{len(site_names)} site names given for {n_sites} sites", ErrorCode.INVALID_ARGS
        )
    if len(set(site_names)) != len(site_names):
        raise InvalidRequest("site names must be unique", ErrorCode.INVALID_ARGS)
    for name in site_names:
        if not SITE_NAME.match(name) or name == "server":
            raise InvalidRequest(f"{name!r} is not a valid site name", ErrorCode.INVALID_ARGS)
    return list(site_names)


def _prepare_workspace(workspace: Path) -> Path:
    workspace = workspace.expanduser().resolve()
    if workspace.exists():
        if (workspace / MARKER).is_file():
            shutil.rmtree(workspace)
        elif not workspace.is_dir() or any(workspace.iterdir()):
            raise InvalidRequest(
                f"workspace {workspace} exists and is not an earlier simulation's",
                ErrorCode.OUTPUT_DIR_EXISTS,
                hint="Pass an empty or new folder with -w; a simulation's own workspace is "
                "cleared and reused.",
            )
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / MARKER).write_text("cohort simulate workspace: cleared by the next run\n")
    return workspace


def plan_simulation(
    job: Path,
    n_sites: int,
    *,
    threads: int | None,
    backend: str,
    workspace: Path | None,
    site_names: list[str] | None,
) -> SimulationPlan:
    """Check the arguments and the job (with the server's own validator), prepare the
    workspace and unpack the job into it."""
    if backend not in BACKENDS:
        raise InvalidRequest(
            f"unknown back end {backend!r}; choose one of {', '.join(BACKENDS)}",
            ErrorCode.INVALID_ARGS,
        )
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise InvalidRequest(
            "the ray back end needs Ray, which is not installed",
            ErrorCode.INVALID_ARGS,
            hint="pip install 'cohort[ray]', or use the threads or processes back end",
        )
    names = _site_names(n_sites, site_names)
    if threads is not None and threads < 1:
        raise InvalidRequest(f"threads must be at least 1, not {threads}", ErrorCode.INVALID_ARGS)
    if not Path(job).is_dir():
        raise InvalidRequest(
            f"job folder {job} does not exist", hint="Pass the folder that holds meta.json."
        )
    data = zip_job_folder(Path(job))  # exactly what `cohort job submit` uploads
    validate_job_zip(data)  # the server's check, before anything is written
    ws = _prepare_workspace(workspace or default_workspace(Path(job).resolve().name))
    folder = extract_job_zip(data, ws / "job")
    meta = folder.meta
    named = set(meta.named_sites())
    sites = sorted(s for s in names if not named or s in named)  # as the scheduler picks them
    apps = {app for app in (meta.client_app_for(s) for s in sites) if app is not None}
    if len(apps) > 1:
        raise InvalidRequest(
            f"this job deploys different client apps ({', '.join(sorted(apps))}) to different "
            "sites; the simulator runs one client app for all sites",
            ErrorCode.INVALID_JOB_DEFINITION,
        )
    client_app = next(iter(apps), next(iter(folder.client_configs)))
    if client_app not in folder.client_configs:
        raise InvalidRequest(
            f"app {client_app!r} has no config/config_fed_client.json for its sites",
            ErrorCode.DEPLOY_MAP_INVALID,
        )
    server_app = meta.server_app()
    assert server_app is not None  # validate_job_zip checked it
    limit = threads if threads is not None else min(len(names), os.cpu_count() or 1)
    return SimulationPlan(
        folder=folder,
        job_sha256=hashlib.sha256(data).hexdigest(),
        workspace=ws,
        job_root=ws / "job",
        sites=sites,
        min_clients=meta.min_clients,
        client=folder.client_configs[client_app],
        client_app_dir=ws / "job" / client_app,
        server_app_dir=ws / "job" / server_app,
        server_config=folder.server_configs[server_app],
        threads=max(1, min(limit, len(sites) or 1)),
        backend=backend,
    )
