"""The FastAPI application factory and its background services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from cohort.server.api import (
    admin,
    fleet,
    internal,
    observe,
    sites,
    studies,
    system,
    tokens,
    transfer,
)
from cohort.server.api.deps import Services
from cohort.server.api.errors import install_error_handlers
from cohort.server.config import ServerConfig
from cohort.server.edge.app import create_edge_app
from cohort.server.launcher import JobLauncher
from cohort.server.recovery import recover_jobs, resume_jobs
from cohort.server.rest.app import mount_rest
from cohort.server.scheduler import Scheduler
from cohort.server.state import ServerState
from cohort.store import FileArtifactStore, open_store

__all__ = ["create_app"]


def create_app(config: ServerConfig, server_url: str) -> FastAPI:
    """Build the server app: store, artifacts, routers, scheduler and job launcher.

    ``server_url`` is where this server's own job processes reach it.
    """
    config.workspace.mkdir(parents=True, exist_ok=True)
    store = open_store(config.db_url, config.workspace)
    artifacts = FileArtifactStore(config.workspace / "artifacts")  # see ServerState.artifacts_root
    state = ServerState(config=config, store=store, artifacts=artifacts)
    state.launcher = JobLauncher(state, server_url)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        resumed = recover_jobs(state)  # before any site is served
        tasks = [
            asyncio.create_task(Scheduler(state).run()),
            asyncio.create_task(resume_jobs(state, resumed)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert state.launcher is not None
            await state.launcher.stop_all()
            store.close()

    app = FastAPI(title="Cohort server", version="0.1.0", lifespan=lifespan)
    app.state.services = Services.build(state)
    install_error_handlers(app)
    app.include_router(admin.router)
    app.include_router(observe.router)
    app.include_router(studies.router)
    app.include_router(sites.router)
    app.include_router(fleet.router)
    app.include_router(transfer.router)
    app.include_router(internal.router)
    app.include_router(system.router)
    app.include_router(system.fleet_router)
    app.include_router(tokens.router)
    rest = mount_rest(app, app.state.services, app.version)
    # Served on its own listener (--edge-port) by run_server; same services and key limits.
    app.state.edge_app = create_edge_app(app.state.services, rest.state.rate_limiter, app.version)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness probe (no client certificate identity needed beyond the TLS handshake)."""
        return {"status": "ok"}

    return app
