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
    info.name: info
    for info in (
        RecipeInfo(
            name="fedavg",
            class_path="cohort.recipes.FedAvgRecipe",
            workflow="fedavg",
            description="Federated averaging: each round, sites train the global model on "
            "their data and the server averages their updates, weighted by sample count. "
            "Options: robust aggregation (aggregator=median, trimmed_mean, krum, "
            "multi_krum) and client sampling (sample_fraction or sample_count).",
            example="examples/hello-numpy/job.py",
        ),
        RecipeInfo(
            name="fedavgm",
            class_path="cohort.recipes.FedAvgMRecipe",
            workflow="fedavgm",
            description="FedAvg with server momentum (Hsu et al., 2019).",
            example="docs/algorithms.md",
        ),
        RecipeInfo(
            name="fedopt",
            class_path="cohort.recipes.FedOptRecipe",
            workflow="fedopt",
            description="FedAvg with an adaptive server optimiser: FedAdam, FedYogi or "
            "FedAdagrad (Reddi et al., 2021).",
            example="docs/algorithms.md",
        ),
        RecipeInfo(
            name="fedprox",
            class_path="cohort.recipes.FedProxRecipe",
            workflow="fedprox",
            description="FedProx: sites add a proximal term mu/2 ||w - w_global||^2 to "
            "their loss (Li et al., 2020).",
            example="docs/algorithms.md",
        ),
        RecipeInfo(
            name="scaffold",
            class_path="cohort.recipes.ScaffoldRecipe",
            workflow="scaffold",
            description="SCAFFOLD: control variates on the server and the sites correct "
            "client drift (Karimireddy et al., 2020).",
            example="docs/algorithms.md",
        ),
        RecipeInfo(
            name="cyclic",
            class_path="cohort.recipes.CyclicRecipe",
            workflow="cyclic",
            description="Cyclic weight transfer: the model visits the sites in turn, each "
            "training it further.",
            example="docs/algorithms.md",
        ),
        RecipeInfo(
            name="cross_site_eval",
            class_path="cohort.recipes.CrossSiteEvalRecipe",
            workflow="cross_site_eval",
            description="FedAvg, then every site evaluates the global model and every "
            "site's model; the matrix is cross_site_eval.json in the job result.",
            example="docs/algorithms.md",
        ),
    )
}
