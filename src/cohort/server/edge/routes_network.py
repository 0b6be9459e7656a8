"""Edge routes for the network: controller status, key refresh, clients, combiners,
attributes and statuses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from cohort.errors import NotFound
from cohort.schemas.edge import (
    AddAttribute,
    AddStatus,
    Attribute,
    AttributeList,
    ControllerStatus,
    CurrentAttributes,
    EdgeClient,
    Listing,
    StatusEntry,
    TokenRefresh,
)
from cohort.server.edge.deps import Edge, Page, Reader, Writer, both, listing
from cohort.server.rest.deps import ERROR_RESPONSES
from cohort.server.services.edge_network import COMBINER

__all__ = ["api", "root"]

root = APIRouter(responses=ERROR_RESPONSES)
api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Online = Literal["online", "offline"]


@root.get("/get_controller_status", response_model=ControllerStatus, tags=["control"])
async def controller_status(_: Reader, edge: Edge) -> ControllerStatus:
    """Instructing while a session's job runs, else idle."""
    return edge.network.controller()


@root.post("/api/auth/refresh", tags=["auth"])
async def refresh(req: TokenRefresh, edge: Edge) -> dict[str, Any]:
    """The client sends its key as a refresh token: a valid key is its own access token."""
    token = edge.core.tokens.authenticate(req.refresh_token)
    state = edge.core.state
    left = None if token.expires is None else max(int(token.expires - state.clock()), 1)
    return {
        "access_token": req.refresh_token,
        "refresh_token": req.refresh_token,
        "expires_in": left or 3600,
    }


@both(api.get, "/clients", response_model=Listing[EdgeClient], tags=["clients"])
async def clients(
    _: Reader, edge: Edge, page: Page, status: Online | None = None, combiner: str | None = None
) -> Listing[EdgeClient]:
    """Every client (site); ``status=online`` keeps the connected ones."""
    return listing(edge.network.clients(status, combiner), page)


@api.get("/clients/count", response_model=int, tags=["clients"])
async def clients_count(_: Reader, edge: Edge, status: Online | None = None) -> int:
    """How many clients (``status=online``: connected)."""
    return len(edge.network.clients(status))


@api.get("/clients/config", tags=["clients"])
async def client_config(_: Reader, edge: Edge, checksum: bool = True) -> dict[str, Any]:
    """What a client needs to join: Cohort sites join with a startup kit, not this config."""
    config: dict[str, Any] = {"combiner": COMBINER, "package": "remote", "helper": "numpyhelper"}
    if checksum:
        config["checksum"] = edge.packages.active().checksum
    return config


@api.get("/clients/{client_id}", response_model=EdgeClient, tags=["clients"])
async def client(client_id: str, _: Reader, edge: Edge) -> EdgeClient:
    """One client."""
    return edge.network.client(client_id)


@both(api.get, "/combiners", response_model=Listing[dict[str, Any]], tags=["combiners"])
async def combiners(_: Reader, edge: Edge, page: Page) -> Listing[dict[str, Any]]:
    """The one combiner: the server."""
    found = [edge.network.combiner()]
    end = None if page.limit is None else page.skip + page.limit
    return Listing[dict[str, Any]](count=1, result=found[page.skip : end])


@api.get("/combiners/count", response_model=int, tags=["combiners"])
async def combiners_count(_: Reader) -> int:
    """How many combiners (one)."""
    return 1


@api.get("/combiners/{combiner_id}", tags=["combiners"])
async def combiner(combiner_id: str, _: Reader, edge: Edge) -> dict[str, Any]:
    """The combiner (``cohort-server``)."""
    if combiner_id != COMBINER:
        raise NotFound(f"combiner {combiner_id!r} not found", details={"combiner_id": combiner_id})
    return edge.network.combiner()


@both(api.post, "/attributes", response_model=Attribute, tags=["attributes"])
async def add_attribute(req: AddAttribute, _: Writer, edge: Edge) -> Attribute:
    """Set a node's attribute (the newest value of a key is current)."""
    return edge.network.add_attribute(req)


@api.post("/attributes/current", response_model=dict[str, dict[str, str]], tags=["attributes"])
async def current_attributes(
    req: CurrentAttributes, _: Reader, edge: Edge
) -> dict[str, dict[str, str]]:
    """node id -> key -> current value."""
    return edge.network.current(req.node_ids)


@api.post("/attributes/list", response_model=Listing[Attribute], tags=["attributes"])
async def attribute_trail(
    req: AttributeList, _: Reader, edge: Edge, page: Page
) -> Listing[Attribute]:
    """Every value ever set on one node, oldest first."""
    return listing(edge.network.trail(req.entity_id), page)


def _status_filter(
    found: list[StatusEntry], kind: str | None, name: str | None, role: str | None
) -> list[StatusEntry]:
    return [
        s
        for s in found
        if kind in (None, s.type)
        and name in (None, s.sender.name)
        and role in (None, s.sender.role)
    ]


@both(api.get, "/statuses", response_model=Listing[StatusEntry], tags=["statuses"])
async def statuses(
    _: Reader,
    edge: Edge,
    page: Page,
    session_id: str | None = None,
    type: str | None = None,
    sender_name: Annotated[str | None, Query(alias="sender.name")] = None,
    sender_role: Annotated[str | None, Query(alias="sender.role")] = None,
) -> Listing[StatusEntry]:
    """Events, oldest first; filters: session, type, sender name and role."""
    jobs = None if session_id is None else edge.sessions.job_ids(session_id)
    return listing(
        _status_filter(edge.results.statuses(jobs), type, sender_name, sender_role), page
    )


@api.get("/statuses/count", response_model=int, tags=["statuses"])
async def statuses_count(_: Reader, edge: Edge) -> int:
    """How many events."""
    return len(edge.results.statuses())


@api.get("/statuses/{status_id}", response_model=StatusEntry, tags=["statuses"])
async def status(status_id: str, _: Reader, edge: Edge) -> StatusEntry:
    """One event."""
    for found in edge.results.statuses():
        if found.id == status_id:
            return found
    raise NotFound(f"status {status_id!r} not found", details={"status_id": status_id})


@both(api.post, "/statuses", response_model=StatusEntry, tags=["statuses"])
async def add_status(req: AddStatus, _: Writer, edge: Edge) -> StatusEntry:
    """Record an event."""
    return edge.results.add_status(req)
