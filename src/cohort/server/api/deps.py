"""Access to the services from a request (set on the app by :func:`create_app`)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cohort.server.services.clients import ClientService
from cohort.server.services.experiments import ExperimentService
from cohort.server.services.fleet import FleetService
from cohort.server.services.jobs import JobService
from cohort.server.services.models import ModelService
from cohort.server.services.observe import ObserveService
from cohort.server.services.tokens import TokenService
from cohort.server.services.work import WorkService
from cohort.server.state import ServerState

__all__ = ["Services", "services"]


@dataclass
class Services:
    """The service objects of one server process."""

    state: ServerState
    jobs: JobService
    fleet: FleetService
    work: WorkService
    observe: ObserveService
    tokens: TokenService
    experiments: ExperimentService
    clients: ClientService
    models: ModelService

    @classmethod
    def build(cls, state: ServerState) -> Services:
        """Wire every service to one shared state."""
        jobs, fleet = JobService(state), FleetService(state)
        return cls(
            state,
            jobs,
            fleet,
            WorkService(state),
            ObserveService(state, jobs),
            TokenService(state),
            ExperimentService(state, jobs),
            ClientService(state),
            ModelService(state, fleet),
        )


def services(request: Request) -> Services:
    """FastAPI dependency returning the app's services."""
    result: Services = request.app.state.services
    return result
