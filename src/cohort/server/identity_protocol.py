"""uvicorn's h11 protocol with the verified mutual-TLS peer identity (see :mod:`cohort.tls`).

Server-side only: it imports uvicorn, which clients of :mod:`cohort.tls` need not load.
"""

from __future__ import annotations

import asyncio
import ssl

from uvicorn.protocols.http.h11_impl import H11Protocol

from cohort.tls import PEER_IDENTITY_KEY, identity_from_peercert

__all__ = ["IdentityH11Protocol"]


class IdentityH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the verified client identity in each request's state.

    Pass it as ``uvicorn.Config(http=IdentityH11Protocol, ...)``. Handlers read the identity
    with :func:`peer_identity`.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Record the peer identity of this connection (asyncio calls this after the handshake)."""
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        identity = None
        if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            identity = identity_from_peercert(ssl_object.getpeercert())
        # A new dict, never an update of the old one: app_state starts as the lifespan state
        # shared by all connections, and one client's identity must not leak to another's.
        # The key is always set so nothing in the lifespan state can pose as an identity.
        self.app_state = {**self.app_state, PEER_IDENTITY_KEY: identity}
