"""Mount the REST API v1 on the server app: ``/api/v1`` (its own OpenAPI document at
``/api/v1/openapi.json``) and ``/ws/events``."""

from __future__ import annotations

from fastapi import FastAPI

from cohort.server.api.deps import Services
from cohort.server.api.errors import install_error_handlers
from cohort.server.rest import events, routes_fl, routes_models
from cohort.server.rest.ratelimit import RateLimiter, RateLimitHeaders

__all__ = ["mount_rest"]

DESCRIPTION = """Cohort's REST API v1 (seed 003 shapes). Every call but /health needs
`Authorization: Bearer <key>` with a key from `cohort token create`. Errors answer
`{"error": {code, message, hint, details, timestamp}}`. Live events: WebSocket /ws/events."""


def mount_rest(app: FastAPI, services: Services, version: str) -> FastAPI:
    """Build the REST sub-application, share ``services`` with it, and mount it."""
    rest = FastAPI(
        title="Cohort REST API",
        version=version,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    limiter = RateLimiter(services.state.clock)
    for target in (app, rest):
        target.state.services = services
        target.state.rate_limiter = limiter
    install_error_handlers(rest)
    rest.add_middleware(RateLimitHeaders)
    rest.include_router(routes_fl.router)
    rest.include_router(routes_models.router)
    app.mount("/api/v1", rest)
    app.include_router(events.router)
    return rest
