"""What every recipe is, and the registry ``cohort recipe list`` shows."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from cohort.schemas.job import JobLogReceiver, JobLogStreamer

__all__ = ["RECIPES", "JobComponents", "Recipe", "RecipeInfo"]


@dataclass
class JobComponents:
    """Components a recipe adds to its job's apps: ``recipe.job.to_clients(...)`` for the
    sites' app, ``recipe.job.to_server(...)`` for the server's. For job log streaming::

        recipe.job.to_clients(JobLogStreamer())   # each site streams its job log.txt
        recipe.job.to_server(JobLogReceiver())    # the server stores the streamed logs
    """

    clients: list[JobLogStreamer] = field(default_factory=list)
    server: list[JobLogReceiver] = field(default_factory=list)

    def to_clients(self, component: JobLogStreamer) -> None:
        """Add a component to the app every site runs (at most one of each kind)."""
        if not isinstance(component, JobLogStreamer):
            raise TypeError(f"{type(component).__name__} is not a site component")
        self.clients = [c for c in self.clients if type(c) is not type(component)]
        self.clients.append(component)

    def to_server(self, component: JobLogReceiver) -> None:
        """Add a component to the server's app (at most one of each kind)."""
        if not isinstance(component, JobLogReceiver):
            raise TypeError(f"{type(component).__name__} is not a server component")
        self.server = [c for c in self.server if type(c) is not type(component)]
        self.server.append(component)


class Recipe(abc.ABC):
    """A job described in Python; :meth:`export` writes it as a job folder."""

    @abc.abstractmethod
    def export(self, job_dir: str | Path) -> Path:
        """Write the job folder (meta.json, app/config/*.json, app/custom/...) to ``job_dir``,
        which must not exist or be empty; return its path."""


@dataclass(frozen=True)
class RecipeInfo:
    """A built-in recipe as ``cohort recipe list`` shows it."""

    name: str
    class_path: str
    workflow: str
    description: str
    example: str


#: Built-in recipes, by name.
RECIPES: dict[str, RecipeInfo] = {
    "fedavg": RecipeInfo(
        name="fedavg",
        class_path="cohort.recipes.FedAvgRecipe",
        workflow="fedavg",
        description="Federated averaging: each round, sites train the global model on their "
        "data and the server averages their updates, weighted by sample count.",
        example="examples/hello-numpy/job.py",
    ),
}
