"""Who is calling: the identity the server's CA put in the client certificate."""

from __future__ import annotations

from fastapi import Request

from cohort.errors import AuthenticationFailed, NotAuthorized, NotFound
from cohort.tls import Identity, peer_identity

__all__ = ["ADMIN_ROLES", "admin_identity", "server_identity", "site_identity"]

ADMIN_ROLES = frozenset({"project_admin", "org_admin", "lead", "member"})


def _identity(request: Request) -> Identity:
    identity = peer_identity(request)
    if identity is None:
        raise AuthenticationFailed(
            "no client certificate identity on this connection",
            hint="Use a startup kit signed by this federation's CA.",
        )
    return identity


def site_identity(request: Request) -> Identity:
    """Dependency for fleet routes: only site certificates, and not of a disabled site."""
    identity = _identity(request)
    if identity.role != "site":
        raise NotAuthorized(f"{identity.name} ({identity.role}) is not a site")
    try:
        site = request.app.state.services.state.store.get_site(identity.name)
    except NotFound:  # first contact: the heartbeat records it
        return identity
    if not site.enabled:
        raise NotAuthorized(
            f"site {identity.name} is disabled by an admin; the server refuses its certificate",
            hint=f"An admin can enable it again: cohort site enable {identity.name}",
            details={"site": identity.name, "rule": "disabled sites may not connect"},
        )
    return identity


def admin_identity(request: Request) -> Identity:
    """Dependency for admin routes: only admin certificates."""
    identity = _identity(request)
    if identity.role not in ADMIN_ROLES:
        raise NotAuthorized(f"{identity.name} ({identity.role}) is not an admin")
    return identity


def server_identity(request: Request) -> Identity:
    """Dependency for internal routes: only the server's own certificate (job processes)."""
    identity = _identity(request)
    if identity.role != "server":
        raise NotAuthorized(f"{identity.name} ({identity.role}) is not the server")
    return identity
