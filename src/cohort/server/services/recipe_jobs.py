"""Job archives built from the built-in FedAvg recipe and site script: what REST experiments
and edge sessions run (one definition, so both faces build the same job)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohort.errors import InvalidRequest
from cohort.jobfolder import zip_job_folder
from cohort.recipes import FedAvgRecipe
from cohort.recipes.scripts import TABULAR_DATASETS, TABULAR_SOFTMAX
from cohort.schemas.policy import JobPolicies

__all__ = ["INITIAL_MODEL", "TabularJob", "check_dataset"]

#: Where a job's initial model travels: the server app's custom folder.
INITIAL_MODEL = "initial.safetensors"


def check_dataset(name: str) -> str:
    """The built-in script's name of a data set; INVALID_REQUEST for one it cannot train on."""
    dataset = name.lower().replace("-", "_")
    if dataset not in TABULAR_DATASETS:
        raise InvalidRequest(
            f"dataset {name!r} is not available to the built-in script",
            hint=f"Use one of: {', '.join(TABULAR_DATASETS)}.",
            details={"dataset": name},
        )
    return dataset


@dataclass
class TabularJob:
    """A FedAvg job of the built-in softmax script on one bundled data set."""

    name: str
    dataset: str
    rounds: int
    min_clients: int
    shares: int
    epochs: int
    lr: float
    task_timeout: float
    sites: list[str] | None = None
    initial_model: Path | None = None
    wait_after_min: float = 5.0
    workflow_args: dict[str, Any] = field(default_factory=dict)
    recipe: type[FedAvgRecipe] = FedAvgRecipe
    policies: JobPolicies | None = None

    def archive(self, max_bytes: int) -> bytes:
        """The zipped job folder; INVALID_REQUEST when the workflow refuses an argument."""
        with tempfile.TemporaryDirectory() as tmp:
            extra: list[Path] = []
            args = dict(self.workflow_args)
            if self.initial_model is not None:
                # The workflow loads it from the server app folder (custom/ is part of it).
                copy = Path(tmp) / INITIAL_MODEL
                copy.write_bytes(self.initial_model.read_bytes())
                extra.append(copy)
                args["initial_model"] = f"custom/{INITIAL_MODEL}"
            try:
                recipe = self.recipe(
                    name=self.name,
                    train_script=TABULAR_SOFTMAX,
                    num_rounds=self.rounds,
                    min_clients=self.min_clients,
                    train_args=[
                        "--dataset",
                        check_dataset(self.dataset),
                        "--shares",
                        str(self.shares),
                        "--epochs",
                        str(self.epochs),
                        "--lr",
                        str(self.lr),
                    ],
                    extra_files=extra,
                    sites=self.sites,
                    task_timeout=self.task_timeout,
                    wait_after_min=self.wait_after_min,
                    policies=self.policies,
                    **args,
                )
            except ValueError as exc:  # pydantic: a workflow argument out of range
                raise InvalidRequest(
                    f"invalid workflow arguments: {exc}", details={"arguments": sorted(args)}
                ) from exc
            folder = recipe.export(Path(tmp) / "job")
            return zip_job_folder(folder, max_bytes)
