"""uvicorn's HTTP protocols with the verified mutual-TLS peer identity (see :mod:`cohort.tls`).

Server-side only: it imports uvicorn, which clients of :mod:`cohort.tls` need not load.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cohort.tls import PEER_IDENTITY_KEY, identity_from_peercert

__all__ = ["IdentityH11Protocol", "IdentityHttpToolsProtocol"]


def _with_identity(app_state: dict[str, Any], transport: asyncio.Transport) -> dict[str, Any]:
    ssl_object = transport.get_extra_info("ssl_object")
    identity = None
    if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        identity = identity_from_peercert(ssl_object.getpeercert())
    # A new dict, never an update of the old one: app_state starts as the lifespan state
    # shared by all connections, and one client's identity must not leak to another's.
    # The key is always set so nothing in the lifespan state can pose as an identity.
    return {**app_state, PEER_IDENTITY_KEY: identity}


class IdentityH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the verified client identity in each request's state.

    Pass it as ``uvicorn.Config(http=IdentityH11Protocol, ...)``. Handlers read the identity
    with :func:`cohort.tls.peer_identity`.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Record the peer identity of this connection (asyncio calls this after the handshake)."""
        super().connection_made(transport)
        self.app_state = _with_identity(self.app_state, transport)


class IdentityHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser the server runs: large bodies cost less
    CPU than with h11), plus the verified client identity, as :class:`IdentityH11Protocol`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Record the peer identity of this connection (asyncio calls this after the handshake)."""
        super().connection_made(transport)
        self.app_state = _with_identity(self.app_state, transport)
