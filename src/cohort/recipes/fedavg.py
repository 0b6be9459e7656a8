"""FedAvgRecipe: a FedAvg job around one training script; the base of the algorithm recipes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from cohort.errors import ErrorCode, InvalidRequest
from cohort.jobfolder import CLIENT_CONFIG, SERVER_CONFIG
from cohort.recipes.base import JobComponents, Recipe
from cohort.schemas.job import ALL_SITES, ClientAppConfig, JobMeta, ServerAppConfig
from cohort.schemas.policy import JobPolicies
from cohort.workflows.fedavg import FedAvgArgs

__all__ = ["FedAvgRecipe"]

APP = "app"


class FedAvgRecipe(Recipe):
    """A FedAvg job: every site runs ``train_script`` (copied into ``app/custom/``).

    Subclasses set :attr:`workflow` and :attr:`args_model` for the other FedAvg-family
    workflows; any workflow argument not named below (``aggregator``, ``sample_fraction``,
    ``mu``, ...) goes in ``workflow_args`` and is checked against :attr:`args_model` here.

    Args:
        name: the job's name.
        train_script: path of the site script (uses ``cohort.client``).
        num_rounds: FedAvg rounds.
        min_clients: sites a job needs to start, and updates a round needs.
        train_args: command-line arguments of the script.
        extra_files: more files (or folders) copied next to the script, e.g. its helpers.
        sites: run on these sites only (default: every site).
        task_timeout: seconds a site has per task.
        wait_after_min: seconds a round waits for more updates once ``min_clients`` answered.
        env: environment variables for the script.
        log_streaming: False keeps every site's log on the site (``meta.json``
            ``log_streaming: false``); None leaves it to the components in ``recipe.job``
            and the server's default (on in a POC).
        scheduling_timeout: seconds the job may wait for ``min_clients`` sites.
        policies: the job's policies (``meta.json`` ``policies``, docs/policies.md): update
            validation before aggregation, trust threshold, resource requirements; a
            :class:`JobPolicies` or its dict.
        workflow_args: more arguments of the workflow (see docs/algorithms.md), e.g.
            ``aggregator="median"`` or ``sample_fraction=0.5``.
    """

    workflow: ClassVar[str] = "fedavg"
    args_model: ClassVar[type[FedAvgArgs]] = FedAvgArgs

    def __init__(
        self,
        *,
        name: str,
        train_script: str | Path,
        num_rounds: int = 5,
        min_clients: int = 2,
        train_args: Sequence[str] = (),
        extra_files: Sequence[str | Path] = (),
        sites: Sequence[str] | None = None,
        task_timeout: float = 600.0,
        wait_after_min: float = 10.0,
        env: dict[str, str] | None = None,
        log_streaming: bool | None = None,
        scheduling_timeout: float = 300.0,
        policies: JobPolicies | dict[str, Any] | None = None,
        **workflow_args: Any,
    ) -> None:
        self.name = name
        self.train_script = Path(train_script)
        self.extra_files = [Path(p) for p in extra_files]
        self.sites = list(sites) if sites else None
        # Validate now, with the job format's own types: a bad recipe fails where it is written.
        self.args = self.args_model(
            num_rounds=num_rounds,
            task_timeout=task_timeout,
            wait_after_min=wait_after_min,
            **workflow_args,
        )
        self.meta = JobMeta(
            name=name,
            deploy_map={APP: [*self.sites, "server"] if self.sites else [ALL_SITES]},
            min_clients=min_clients,
            scheduling_timeout=scheduling_timeout,
            log_streaming=log_streaming,
            policies=JobPolicies.model_validate(policies or {}),
        )
        self.client = ClientAppConfig(
            script=f"custom/{self.train_script.name}", args=list(train_args), env=dict(env or {})
        )
        self.server = ServerAppConfig(
            workflow=self.workflow, args=self.args.model_dump(exclude_none=True)
        )
        #: Components of the job's apps: recipe.job.to_clients(JobLogStreamer()), ...
        self.job = JobComponents()

    def export(self, job_dir: str | Path) -> Path:
        """Write meta.json, app/config/config_fed_{server,client}.json and app/custom/."""
        target = Path(job_dir)
        if target.exists() and any(target.iterdir()):
            raise InvalidRequest(
                f"{target} exists and is not empty",
                code=ErrorCode.OUTPUT_DIR_EXISTS,
                hint="Export into a new or empty folder.",
            )
        for source in [self.train_script, *self.extra_files]:
            if not source.exists():
                raise InvalidRequest(f"{source} does not exist", code=ErrorCode.INVALID_ARGS)
        custom = target / APP / "custom"
        custom.mkdir(parents=True, exist_ok=True)
        meta = self.meta.model_dump(mode="json", exclude_none=True)
        if self.meta.policies == JobPolicies():  # a job without policies reads as before
            del meta["policies"]
        _write_json(target / "meta.json", meta)
        server = self.server.model_copy(update={"components": list(self.job.server)})
        client = self.client.model_copy(update={"components": list(self.job.clients)})
        _write_json(target / APP / SERVER_CONFIG, _config_json(server))
        _write_json(target / APP / CLIENT_CONFIG, _config_json(client))
        for source in [self.train_script, *self.extra_files]:
            if source.is_dir():
                shutil.copytree(
                    source, custom / source.name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(source, custom / source.name)
        return target


def _config_json(config: ServerAppConfig | ClientAppConfig) -> dict[str, Any]:
    # Without an empty components list: a job without components reads as before.
    data: dict[str, Any] = config.model_dump(mode="json")
    if not data["components"]:
        del data["components"]
    return data


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
