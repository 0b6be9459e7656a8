"""The edge API's services, paging headers and list envelope."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Header
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from cohort.schemas.edge import Listing
from cohort.server.api.deps import Services
from cohort.server.policy import Action
from cohort.server.rest.deps import Caller, caller
from cohort.server.services.commands import CommandService
from cohort.server.services.edge_models import EdgeModelService
from cohort.server.services.edge_network import EdgeNetworkService
from cohort.server.services.edge_packages import EdgePackageService
from cohort.server.services.edge_results import EdgeResultService
from cohort.server.services.predictions import PredictionService
from cohort.server.services.sessions import SessionService

__all__ = ["Edge", "EdgeServices", "Page", "Reader", "Writer", "both", "listing"]

M = TypeVar("M", bound=BaseModel)


@dataclass
class EdgeServices:
    """The services behind the edge routes (over the server's shared ones)."""

    core: Services
    network: EdgeNetworkService
    models: EdgeModelService
    packages: EdgePackageService
    results: EdgeResultService
    sessions: SessionService
    predictions: PredictionService
    commands: CommandService

    @classmethod
    def build(cls, core: Services) -> EdgeServices:
        """Wire the edge services to the server's state and job service."""
        network, models = EdgeNetworkService(core.state), EdgeModelService(core.state)
        packages = EdgePackageService(core.state)
        return cls(
            core=core,
            network=network,
            models=models,
            packages=packages,
            results=EdgeResultService(core.state),
            sessions=SessionService(core.state, core.jobs, models, packages, network),
            predictions=PredictionService(core.state, core.jobs, models, packages),
            commands=CommandService(core.state, core.jobs),
        )


def edge_services(conn: HTTPConnection) -> EdgeServices:
    """The edge app's services."""
    result: EdgeServices = conn.app.state.edge
    return result


@dataclass(frozen=True)
class Paging:
    """The dialect's paging and sorting headers."""

    limit: int | None
    skip: int
    sort_key: str | None
    descending: bool


def paging(
    x_limit: Annotated[int | None, Header(ge=0, le=1_000_000)] = None,
    x_skip: Annotated[int, Header(ge=0)] = 0,
    x_sort_key: Annotated[str | None, Header(max_length=100)] = None,
    x_sort_order: Annotated[Literal["asc", "desc", "ASC", "DESC"], Header()] = "asc",
) -> Paging:
    """``X-Limit``, ``X-Skip``, ``X-Sort-Key`` and ``X-Sort-Order`` (asc/desc)."""
    return Paging(x_limit or None, x_skip, x_sort_key, x_sort_order.lower() == "desc")


def listing(items: Sequence[M], page: Paging) -> Listing[M]:
    """``{count, result}`` of one page; sorted by ``X-Sort-Key`` when the items have it."""
    ordered = list(items)
    key = page.sort_key
    if key and ordered and key in type(ordered[0]).model_fields:

        def value(item: M) -> tuple[bool, Any]:
            got = getattr(item, key)
            return (got is None, got if got is not None else 0)

        ordered.sort(key=value, reverse=page.descending)
    elif page.descending:
        ordered.reverse()
    end = None if page.limit is None else page.skip + page.limit
    return Listing[M](count=len(ordered), result=ordered[page.skip : end])


def both(route: Callable[..., Any], path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Register a handler at ``path/`` (documented) and ``path`` (hidden): the client calls
    list endpoints with and without the trailing slash, and a redirect would lose a POST."""

    def register(handler: Any) -> Any:
        route(path + "/", **kwargs)(handler)
        route(path, include_in_schema=False, **kwargs)(handler)
        return handler

    return register


Edge = Annotated[EdgeServices, Depends(edge_services)]
Page = Annotated[Paging, Depends(paging)]
Reader = Annotated[Caller, Depends(caller())]
Writer = Annotated[Caller, Depends(caller(action=Action.SUBMIT))]
