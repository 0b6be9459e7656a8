"""One way for every Cohort client to call the server: mTLS from a kit, errors as exceptions."""

from __future__ import annotations

from typing import Any

import httpx

from cohort.errors import CohortError, ConnectionFailed, ErrorCode, error_from_envelope
from cohort.provision.kit import Kit
from cohort.tls import client_ssl_context

__all__ = ["check_response", "kit_client"]


def kit_client(kit: Kit, *, timeout: float = 30.0, base_url: str | None = None) -> httpx.Client:
    """Return an httpx client that authenticates with ``kit``'s certificate over mTLS."""
    return httpx.Client(
        base_url=base_url or kit.server_url,
        verify=client_ssl_context(kit),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),  # never past ``timeout``
        limits=httpx.Limits(max_keepalive_connections=4),
    )


def check_response(response: httpx.Response) -> httpx.Response:
    """Return ``response`` when it succeeded; raise the matching :class:`CohortError` if not."""
    if response.is_success:
        return response
    payload: Any = None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        raise error_from_envelope(payload)
    raise CohortError(
        f"server answered HTTP {response.status_code}: {response.text[:200]}",
        code=_code_for_status(response.status_code),
    )


def _code_for_status(status: int) -> ErrorCode:
    return {
        400: ErrorCode.INVALID_REQUEST,
        401: ErrorCode.UNAUTHORIZED,
        403: ErrorCode.NOT_AUTHORIZED,
        404: ErrorCode.NOT_FOUND,
        409: ErrorCode.CONFLICT,
        413: ErrorCode.PAYLOAD_TOO_LARGE,
        429: ErrorCode.RATE_LIMITED,
        503: ErrorCode.SERVICE_UNAVAILABLE,
    }.get(status, ErrorCode.INTERNAL_ERROR)


def connection_error(url: str, exc: Exception) -> ConnectionFailed:
    """Wrap a transport failure so that every client reports it the same way."""
    return ConnectionFailed(
        f"cannot reach the server at {url}: {exc}",
        hint="Check that the server is running and that the startup kit names the right host "
        "and port.",
    )
