"""Access to the services from a request (set on the app by :func:`create_app`)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cohort.server.services.clients import ClientService
from cohort.server.services.components import ComponentService
from cohort.server.services.experiments import ExperimentService
from cohort.server.services.fleet import FleetService
from cohort.server.services.jobs import JobService
from cohort.server.services.models import ModelService
from cohort.server.services.observe import ObserveService
from cohort.server.services.studies import StudyService
from cohort.server.services.targets import TargetService
from cohort.server.services.tokens import TokenService
from cohort.server.services.transfer import TransferService
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
    studies: StudyService
    components: ComponentService
    targets: TargetService
    tokens: TokenService
    experiments: ExperimentService
    clients: ClientService
    models: ModelService
    transfer: TransferService

    @classmethod
    def build(cls, state: ServerState) -> Services:
        """Wire every service to one shared state."""
        jobs, fleet = JobService(state), FleetService(state)
        return cls(
            state=state,
            jobs=jobs,
            fleet=fleet,
            work=WorkService(state),
            observe=ObserveService(state, jobs),
            studies=StudyService(state),
            components=ComponentService(state, jobs),
            targets=TargetService(state),
            tokens=TokenService(state),
            experiments=ExperimentService(state, jobs),
            clients=ClientService(state),
            models=ModelService(state, fleet),
            transfer=TransferService(fleet),
        )


def services(request: Request) -> Services:
    """FastAPI dependency returning the app's services."""
    result: Services = request.app.state.services
    return result
