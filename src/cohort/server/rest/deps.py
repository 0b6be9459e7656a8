"""Who calls the REST API and what they may do: a Bearer API key (``cohort token create``),
its rate limits, and its role.

Order of the checks: the key (401 UNAUTHORIZED), then the rate limits (429 RATE_LIMITED),
then the role (403 FORBIDDEN).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from cohort.errors import AuthenticationFailed, ErrorCode
from cohort.provision.ca import Role
from cohort.schemas.records import ApiTokenRecord
from cohort.schemas.rest import ErrorEnvelope
from cohort.server.api.deps import Services
from cohort.server.policy import Action, authorize_key
from cohort.server.rest.ratelimit import HEADERS_KEY, RateLimiter
from cohort.tls import Identity

__all__ = ["ERROR_RESPONSES", "Caller", "bearer_key", "caller", "rest_services"]

#: The error answers every keyed route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in (
        (400, "INVALID_REQUEST: a malformed body or parameter"),
        (401, "UNAUTHORIZED: no key, or a bad, revoked or expired one"),
        (403, "FORBIDDEN: the key's role may not do this"),
        (404, "NOT_FOUND, CLIENT_NOT_REGISTERED: an unknown id"),
        (409, "CONFLICT and the FL state codes (EXPERIMENT_NOT_ACTIVE, ...)"),
        # Also replaces FastAPI's default 422 entry: invalid input answers 400 here.
        (422, "MODEL_VALIDATION_FAILED: an update that does not match the global model"),
        (429, "RATE_LIMITED: over a rate limit of the key"),
    )
}

# Declares the Bearer scheme in the OpenAPI document; the key itself is checked by `caller`
# (auto_error off: a missing key must answer our 401 envelope, not FastAPI's 403).
_BEARER = HTTPBearer(auto_error=False, description="A key from `cohort token create`.")


@dataclass(frozen=True)
class Caller:
    """An authenticated API key."""

    token: ApiTokenRecord

    @property
    def identity(self) -> Identity:
        """The key as a job submitter: ``api:<token id>`` with the key's role."""
        # A "client" key is no certificate role; the policy grants it nothing (see caller).
        return Identity(name=f"api:{self.token.token_id}", org="", role=cast(Role, self.token.role))


def rest_services(conn: HTTPConnection) -> Services:
    """The services (the REST app shares the main app's)."""
    result: Services = conn.app.state.services
    return result


def limiter(conn: HTTPConnection) -> RateLimiter:
    """The process's rate limiter."""
    result: RateLimiter = conn.app.state.rate_limiter
    return result


def bearer_key(conn: HTTPConnection) -> str:
    """The key of ``Authorization: Bearer <key>`` (or, for browsers' WebSockets, which cannot
    set headers, the ``token`` query parameter)."""
    header = conn.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return key.strip()
    if conn.scope["type"] == "websocket" and conn.query_params.get("token"):
        return conn.query_params["token"]
    raise AuthenticationFailed(
        "missing API key",
        ErrorCode.UNAUTHORIZED,
        hint="Send 'Authorization: Bearer <key>' with a key from `cohort token create`.",
    )


def caller(
    bucket: str | None = None, action: Action | None = None
) -> Callable[[Request], Coroutine[Any, Any, Caller]]:
    """A dependency: authenticate, count the request against ``general`` (and ``bucket``),
    then, for ``action``, ask the one authorization policy (server/policy.py) about the key's
    role, as the admin API asks it about a certificate's."""

    async def dependency(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
    ) -> Caller:
        svc = rest_services(request)
        token = svc.tokens.authenticate(bearer_key(request))
        limits, rl = svc.state.config.rate_limits, limiter(request)
        window, allowed = rl.hit(token.token_id, "general", limits.general)
        name = "general"
        if allowed and bucket is not None:
            name = bucket
            window, allowed = rl.hit(token.token_id, bucket, getattr(limits, bucket))
        request.state.__setattr__(HEADERS_KEY, window)
        if not allowed:
            raise rl.refuse(name, window)
        if action is not None:
            authorize_key(Caller(token).identity, action)
        return Caller(token)

    return dependency
