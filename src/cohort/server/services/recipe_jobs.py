"""Job archives built from the built-in FedAvg recipe and site script: what REST experiments
and edge sessions run (one definition, so both faces build the same job). An edge session
with an uploaded compute package runs the package's script instead (:class:`SiteApp`)."""

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

__all__ = ["INITIAL_MODEL", "SiteApp", "TabularJob", "check_dataset"]

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


@dataclass(frozen=True)
class SiteApp:
    """A site script other than the built-in one (an unpacked compute package): the script,
    the files and folders copied next to it, its arguments and environment, and what the
    job's ``meta.json`` records about it."""

    script: Path
    extra_files: list[Path]
    args: list[str]
    env: dict[str, str]
    meta: dict[str, Any]


@dataclass
class TabularJob:
    """A FedAvg job of the built-in softmax script on one bundled data set, or of ``app``'s
    script (which then gets its own arguments, not the data set and training ones)."""

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
    app: SiteApp | None = None

    def _script(self) -> tuple[Path, list[str], list[Path], dict[str, str]]:
        if self.app is not None:
            return self.app.script, self.app.args, self.app.extra_files, self.app.env
        args = ["--dataset", check_dataset(self.dataset), "--shares", str(self.shares)]
        args += ["--epochs", str(self.epochs), "--lr", str(self.lr)]
        return TABULAR_SOFTMAX, args, [], {}

    def archive(self, max_bytes: int) -> bytes:
        """The zipped job folder; INVALID_REQUEST when the workflow refuses an argument."""
        script, train_args, app_files, env = self._script()
        with tempfile.TemporaryDirectory() as tmp:
            extra: list[Path] = list(app_files)
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
                    train_script=script,
                    num_rounds=self.rounds,
                    min_clients=self.min_clients,
                    train_args=train_args,
                    extra_files=extra,
                    env=env,
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
            if self.app is not None:  # kept in the job's stored meta (cohort job meta)
                meta = {**recipe.meta.model_dump(), **self.app.meta}
                recipe.meta = recipe.meta.model_validate(meta)
            folder = recipe.export(Path(tmp) / "job")
            return zip_job_folder(folder, max_bytes)
