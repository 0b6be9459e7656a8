"""Admin API (``/admin/v1``) for the session API's system commands: commands on targets,
reports, site logging, clients, server shutdown and restart, and a job's components and
errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from cohort.errors import ErrorCode, NotAuthorized
from cohort.schemas.admin import DEFAULT_STUDY
from cohort.schemas.fleet import CommandResult, SiteCommand
from cohort.schemas.records import SiteRecord
from cohort.server.api.auth import site_identity
from cohort.server.api.deps import Services, services
from cohort.server.api.guard import JobManager, SiteOperator, SystemOperator, Viewer
from cohort.server.policy import Action, authorize
from cohort.server.services.targets import MAX_COMMAND_TIMEOUT
from cohort.tls import Identity

__all__ = ["fleet_router", "router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])
fleet_router = APIRouter(prefix="/fleet/v1", tags=["fleet"])
Site = Annotated[Identity, Depends(site_identity)]
Svc = Annotated[Services, Depends(services)]
Study = Annotated[str, Query(max_length=64, description="The study the job belongs to.")]
Timeout = Annotated[float | None, Query(gt=0, le=MAX_COMMAND_TIMEOUT)]
log = logging.getLogger("cohort.server")

#: How long the server waits after answering before it stops (so the answer gets out).
_STOP_DELAY = 0.3


class TargetCommand(BaseModel):
    """A command on one target: ls/cat/head/tail/grep with options, or pwd."""

    options: str | None = Field(default=None, max_length=200)
    path: str | None = Field(default=None, max_length=1024)
    pattern: str | None = Field(default=None, max_length=256)
    timeout: float | None = Field(default=None, gt=0, le=MAX_COMMAND_TIMEOUT)


class SiteLogRequest(BaseModel):
    """A site-level log level or mode for "all", "server" or a site."""

    setting: str | dict[str, Any] = Field(description="A level, a mode or a dictConfig dict.")
    target: str = Field(default="all", max_length=128)
    timeout: float | None = Field(default=None, gt=0, le=MAX_COMMAND_TIMEOUT)


class ClientState(BaseModel):
    """A site with whether it is connected now."""

    site: SiteRecord
    connected: bool


@router.post("/targets/{target}/{command}")
async def target_command(
    target: str, command: str, req: TargetCommand, who: Viewer, svc: Svc
) -> dict[str, Any]:
    """Run ls, cat, head, tail, grep or pwd in the workspace of the server or a site."""
    args = req.model_dump(exclude={"timeout"}, exclude_none=True)
    output = await svc.targets.run(who, target, command, args, req.timeout)
    return {"target": target, "command": command, "output": output}


@router.get("/report/{kind}")
async def report(
    kind: Literal["version", "resources"],
    who: Viewer,
    svc: Svc,
    target_type: str = "all",
    targets: Annotated[list[str] | None, Query()] = None,
    timeout: Timeout = None,
) -> dict[str, Any]:
    """Versions or resources of the server and/or sites: ``{target: facts}``."""
    names = svc.targets.resolve(target_type, targets)
    return await svc.targets.run_many(who, names, kind, timeout)


@router.post("/site-log")
async def site_log(req: SiteLogRequest, who: SiteOperator, svc: Svc) -> dict[str, Any]:
    """Set the site-level log level or mode of the server and/or sites."""
    names = svc.targets.resolve(req.target) if req.target in ("all", "server") else [req.target]
    result = {}
    for name in names:  # one at a time: a refused setting fails before anything changed
        result[name] = await svc.targets.run(
            who, name, "site_log", {"setting": req.setting}, req.timeout
        )
    return result


@router.get("/clients", response_model=list[ClientState])
async def clients(_: Viewer, svc: Svc) -> list[ClientState]:
    """Every known site with its enabled flag and whether it is connected."""
    now = svc.state.clock()
    return [
        ClientState(site=s, connected=svc.state.is_connected(s, now))
        for s in svc.state.store.list_sites()
    ]


@router.post("/clients/{name}/{action}", response_model=ClientState)
async def client_action(
    name: str, action: Literal["enable", "disable", "remove"], who: SiteOperator, svc: Svc
) -> ClientState:
    """enable/disable a site (a disabled site's heartbeats are refused); remove: forget its
    connection now (it is not stopped, and its next heartbeat connects it again)."""
    store = svc.state.store
    if name not in svc.targets.site_names():
        raise svc.targets.unknown(name)
    authorize(who, Action.OPERATE_SITE, orgs={store.get_site(name).org})
    if action == "remove":
        record = store.get_site(name)
        svc.state.released[name] = max(svc.state.clock(), record.last_seen)
    else:
        record = store.set_site_enabled(name, action == "enable")
    log.info("%s: %s %s", who.name, action, name)
    return ClientState(site=record, connected=svc.state.is_connected(record))


@router.post("/server/{action}")
async def server_action(
    action: Literal["shutdown", "restart"], who: SystemOperator, svc: Svc
) -> dict[str, Any]:
    """Stop the server process, or stop and start it again (running jobs resume at the next
    start, or end ABANDONED when their workflow cannot resume)."""
    _stop_soon(svc, restart=action == "restart")
    return {"status": "ok", "server_status": f"{action} requested", "start_time": svc.state.started}


@router.post("/system/shutdown")
async def system_shutdown(who: SystemOperator, svc: Svc) -> dict[str, Any]:
    """Shut down every site (told with its next heartbeat), then the server."""
    state = svc.state
    state.shutdown_sites = True
    connected = [s.name for s in state.connected_sites()]
    # Give every connected site two heartbeats to hear it before the server goes.
    delay = max(2 * state.config.heartbeat_interval, _STOP_DELAY)
    _stop_soon(svc, restart=False, delay=delay)
    return {"status": "ok", "sites_told": connected}


def _stop_soon(svc: Svc, restart: bool, delay: float = _STOP_DELAY) -> None:
    stop = svc.state.stop_server
    if stop is None:
        raise NotAuthorized(
            "this server cannot stop itself (it was not started by `cohort server start`)",
            code=ErrorCode.NOT_AUTHORIZED,
        )
    asyncio.get_running_loop().call_later(delay, stop, restart)


@router.get("/jobs/{job_id}/components")
async def list_components(
    job_id: str, _: Viewer, svc: Svc, study: Study = DEFAULT_STUDY
) -> dict[str, Any]:
    """Names of the job's additional components (``ERRORLOG_<target>``)."""
    return {"job_id": job_id, "components": sorted(svc.components.error_logs(job_id, study))}


@router.get("/jobs/{job_id}/components.zip")
async def download_components(
    job_id: str, _: Viewer, svc: Svc, study: Study = DEFAULT_STUDY
) -> Response:
    """The job's additional components as a zip archive."""
    data = svc.components.components_zip(job_id, study)
    return Response(data, media_type="application/zip")


@router.get("/jobs/{job_id}/errors")
async def job_errors(
    job_id: str,
    _: Viewer,
    svc: Svc,
    study: Study = DEFAULT_STUDY,
    target_type: str = "all",
    targets: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """Errors of a job per target (only targets with errors)."""
    record = svc.jobs.get(job_id, study)
    names = targets if targets else record.sites
    wanted = {"server"} if target_type == "server" else set(names)
    if target_type == "all":
        wanted |= {"server"}
    return svc.components.errors(job_id, study, sorted(wanted))


@router.post("/jobs/{job_id}/errors/reset")
async def reset_errors(
    job_id: str, _: JobManager, svc: Svc, study: Study = DEFAULT_STUDY
) -> dict[str, str]:
    """Hide the job's errors reported so far, on every target."""
    svc.components.reset_errors(job_id, study)
    return {"job_id": job_id, "status": "reset"}


@fleet_router.get("/commands", response_model=list[SiteCommand])
async def next_commands(
    site: Site, svc: Svc, wait: Annotated[float, Query(ge=0, le=60)] = 20.0
) -> list[SiteCommand]:
    """Long-poll for admin commands relayed to this site (an empty list when none came)."""
    return await svc.targets.next_commands(site, wait)


@fleet_router.post("/commands/{command_id}", status_code=204)
async def command_result(command_id: str, req: CommandResult, site: Site, svc: Svc) -> Response:
    """A site's answer to an admin command relayed to it."""
    svc.targets.answer(site, command_id, req)
    return Response(status_code=204)
