"""The edge API application: its own FastAPI app (the dialect's ``/api/v1`` paths collide
with REST v1's), served on its own listener (``--edge-port``) over the server's services, API
keys, rate limits and error envelope."""

from __future__ import annotations

from fastapi import FastAPI

from cohort.server.api.deps import Services
from cohort.server.api.errors import install_error_handlers
from cohort.server.edge import (
    routes_control,
    routes_models,
    routes_network,
    routes_sessions,
    routes_sites,
)
from cohort.server.edge.deps import EdgeServices
from cohort.server.rest.ratelimit import RateLimiter, RateLimitHeaders

__all__ = ["create_edge_app"]

DESCRIPTION = """Cohort's edge API (seed 004; the REST dialect of the `scaleout` client).
Every call needs `Authorization: Bearer <key>` with a key from `cohort token create`; lists
answer `{count, result}` and page with `X-Limit`/`X-Skip`/`X-Sort-Key`/`X-Sort-Order`."""


def create_edge_app(services: Services, limiter: RateLimiter, version: str) -> FastAPI:
    """The edge app over the server's ``services``, counting keys on the shared ``limiter``."""
    app = FastAPI(
        title="Cohort edge API",
        version=version,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.rate_limiter = limiter
    app.state.edge = EdgeServices.build(services)
    install_error_handlers(app)
    app.add_middleware(RateLimitHeaders)
    app.include_router(routes_network.root)
    app.include_router(routes_network.api)
    app.include_router(routes_models.router)
    app.include_router(routes_sessions.router)
    app.include_router(routes_sites.router)
    app.include_router(routes_control.router)
    return app
