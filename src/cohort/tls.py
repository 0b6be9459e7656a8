"""Mutual-TLS plumbing: server and client SSL settings, and the verified peer identity.

The server requires a client certificate signed by the project CA. Who the caller is comes
from that certificate only (``CN=name, O=org, OU=role``), never from a header, so it cannot be
forged by a client that holds no key signed by the CA.

How the identity reaches a FastAPI handler::

    uvicorn.Config(app, http=IdentityHttpToolsProtocol, **server_ssl_kwargs(kit))
      (the protocols live in cohort.server.identity_protocol: only servers load uvicorn)
      -> IdentityHttpToolsProtocol.connection_made (TLS handshake done, client cert verified)
         reads the peer cert, stores Identity in this connection's app_state
      -> uvicorn copies app_state into scope["state"] for every request on the connection
      -> handler: peer_identity(request) -> Identity | None
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cohort import lazy
from cohort.errors import InvalidRequest
from cohort.provision.ca import ROLES, Role
from cohort.provision.kit import Kit

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from cohort.server.identity_protocol import IdentityH11Protocol, IdentityHttpToolsProtocol

__all__ = [
    "PEER_IDENTITY_KEY",
    "Identity",
    "IdentityH11Protocol",
    "IdentityHttpToolsProtocol",
    "client_ssl_context",
    "identity_from_peercert",
    "peer_identity",
    "server_ssl_kwargs",
]

PEER_IDENTITY_KEY: Final = "peer_identity"

# The protocol subclasses uvicorn's, so it loads on first use: clients (site agents, scripts,
# job processes) need only client_ssl_context, and need not import uvicorn and starlette.
__getattr__ = lazy.lazy_names(
    globals(),
    {
        "IdentityH11Protocol": "cohort.server.identity_protocol",
        "IdentityHttpToolsProtocol": "cohort.server.identity_protocol",
    },
)


@dataclass(frozen=True)
class Identity:
    """Who is on the other end of a verified TLS connection, from its certificate subject."""

    name: str
    org: str
    role: Role


def server_ssl_kwargs(kit: Kit) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that serve TLS and require a client certificate.

    Clients must present a certificate signed by the kit's root CA; others fail the handshake.

    Raises:
        InvalidRequest: ``kit`` is not a server kit.
    """
    if kit.config.kind != "server":
        raise InvalidRequest(
            f"{kit.dir} is a {kit.config.kind} kit, not a server kit",
            hint="Start the server with the server's startup kit (prod_00/server).",
            details={"path": str(kit.dir)},
        )
    return {
        "ssl_certfile": str(kit.cert),
        "ssl_keyfile": str(kit.key),
        "ssl_ca_certs": str(kit.ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


def client_ssl_context(kit: Kit) -> ssl.SSLContext:
    """An SSL context for dialing the server with ``kit``: ``httpx.Client(verify=ctx)``.

    It trusts only the kit's root CA (not the system store: the server's certificate comes from
    the project CA), checks the host name, needs TLS 1.2 or newer, and presents the kit's
    certificate and key as the client certificate.

    Raises:
        InvalidRequest: the kit's certificate, key or root CA cannot be loaded.
    """
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(kit.ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(kit.cert), str(kit.key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidRequest(
            f"cannot load the TLS files of startup kit {kit.dir}: {exc}",
            hint="The kit is damaged or its key does not match its certificate; re-provision it.",
            details={"path": str(kit.dir)},
        ) from exc
    return ctx


def identity_from_peercert(peercert: dict[str, Any] | None) -> Identity | None:
    """Read the identity from ``ssl.SSLObject.getpeercert()``'s dict.

    Returns ``None`` when there is no certificate or its subject lacks a CN, O, or a known role
    in OU, so such a peer is treated as anonymous rather than half-identified.
    """
    if not peercert:
        return None
    fields: dict[str, str] = {}
    # subject is a tuple of RDNs, each a tuple of (attribute, value) pairs.
    for rdn in peercert.get("subject", ()):
        for attr, value in rdn:
            fields.setdefault(attr, value)  # first wins: our certs never repeat an attribute
    name = fields.get("commonName")
    org = fields.get("organizationName")
    role = fields.get("organizationalUnitName")
    if not name or not org or role not in ROLES:
        return None
    return Identity(name=name, org=org, role=role)


def peer_identity(request: HTTPConnection) -> Identity | None:
    """The verified identity of the client behind ``request``, or ``None`` if there is none.

    ``None`` means the server does not run with :class:`IdentityH11Protocol` over mutual TLS,
    or the client's certificate does not name a Cohort participant.
    """
    identity = getattr(request.state, PEER_IDENTITY_KEY, None)
    return identity if isinstance(identity, Identity) else None
