"""Predictions and validation runs of the edge API: a prediction run is a job of the
``predict`` workflow that sends one model to the sites; each site's answer (its prediction
metrics) is a prediction. A validation run (``validations/start``) is the same with the
``validate`` workflow: each site scores the model, and its answer is a validation of it.

A prediction run keeps a descriptor at ``edge/predictions/<id>.json`` (its job and model),
a validation run at ``edge/validation_runs/<id>.json`` (its job, model and session); their
job ids are ``predict-<id>`` and ``validate-<id>``, so ``cohort job list`` shows them and
sessions leave them out.
"""

from __future__ import annotations

import json
import uuid

from cohort.errors import Conflict, InvalidRequest
from cohort.recipes.fedavg import FedAvgRecipe
from cohort.recipes.predict import PredictRecipe, ValidateRecipe
from cohort.schemas.edge import Prediction, Sender
from cohort.server.services.edge_models import EdgeModelService
from cohort.server.services.edge_packages import BUILTIN_PACKAGE, EdgePackageService
from cohort.server.services.events import iso
from cohort.server.services.jobs import JobService
from cohort.server.services.recipe_jobs import TabularJob
from cohort.server.state import ServerState
from cohort.tls import Identity

__all__ = ["JOB_PREFIX", "VALIDATION_JOBS", "VALIDATION_RUNS", "PredictionService"]

#: Prediction jobs' ids start with this.
JOB_PREFIX = "predict-"
ROOT = "edge/predictions"
#: Validation runs' job ids start with this; their descriptors are under VALIDATION_RUNS.
VALIDATION_JOBS = "validate-"
VALIDATION_RUNS = "edge/validation_runs"


class PredictionService:
    """Start prediction runs and read their results."""

    def __init__(
        self,
        state: ServerState,
        jobs: JobService,
        models: EdgeModelService,
        packages: EdgePackageService,
    ) -> None:
        self.state = state
        self.jobs = jobs
        self.models = models
        self.packages = packages

    def start(
        self,
        who: Identity,
        model_id: str | None,
        prediction_id: str | None,
        client_ids: list[str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, str]:
        """Send ``model_id`` (default: the newest global model) to the sites (all connected,
        or ``client_ids``) as a predict task."""
        prediction_id = prediction_id or uuid.uuid4().hex[:16]
        key = f"{ROOT}/{prediction_id}.json"
        if self.state.artifacts.exists(key):
            raise Conflict(f"prediction {prediction_id!r} exists")
        if model_id is None:
            trained = [m for m in self.models.all() if m.session_id is not None]
            if not trained:
                raise InvalidRequest("there is no global model to predict with yet")
            model_id = trained[-1].model_id
        job_id = f"{JOB_PREFIX}{prediction_id}"
        archive = self._archive(f"predict {model_id}", model_id, client_ids, timeout)
        self._save(key, prediction_id, job_id, model_id, self._origin(model_id)[0])
        self.jobs.submit(who, archive, job_id=job_id)
        return {"prediction_id": prediction_id, "job_id": job_id, "model_id": model_id}

    def validate(self, who: Identity, session_id: str, model_id: str) -> dict[str, str]:
        """Send ``model_id`` to every connected site as a validate task; their scores are
        validations of the model in ``session_id``."""
        archive = self._archive(f"validate {model_id}", model_id, None, None, ValidateRecipe)
        run_id = uuid.uuid4().hex[:16]
        job_id = f"{VALIDATION_JOBS}{run_id}"
        record = {"run_id": run_id, "job_id": job_id, "model_id": model_id,
                  "session_id": session_id}  # fmt: skip
        self.state.artifacts.write_bytes(
            f"{VALIDATION_RUNS}/{run_id}.json", json.dumps(record).encode()
        )
        self.jobs.submit(who, archive, job_id=job_id)
        return record

    def _archive(
        self,
        name: str,
        model_id: str,
        client_ids: list[str] | None,
        timeout: float | None,
        recipe: type[FedAvgRecipe] = PredictRecipe,
    ) -> bytes:
        """The job of one task per site with the model, run by the app that trained it."""
        path = self.models.file(model_id)
        connected = [s.name for s in self.state.connected_sites()]
        sites = client_ids or connected
        unknown = sorted(set(sites) - set(connected))
        if unknown or not sites:
            raise InvalidRequest(
                f"clients not connected: {unknown}" if unknown else "no client is connected",
                details={"connected": connected},
            )
        dataset, package_id = self._origin(model_id)
        job = TabularJob(
            name=name,
            dataset=dataset,
            rounds=1,
            min_clients=len(sites),
            shares=max(len(connected), 1),
            epochs=1,
            lr=0.1,
            task_timeout=timeout or 300.0,
            sites=sites,
            initial_model=path,
            recipe=recipe,
        )
        with self.packages.site_app(self.packages.get(package_id)) as app:
            job.app = app
            return job.archive(self.state.config.max_job_bytes)

    def _origin(self, model_id: str) -> tuple[str, str]:
        """The data set and the package of the session run that trained the model (the
        built-in package's defaults for a seed or a job started another way)."""
        model = self.models.get(model_id)
        root = self.state.artifacts.path("edge/sessions")
        if model.session_id is not None and root.is_dir():
            for entry in root.glob("*.json"):
                data = json.loads(entry.read_text())
                for run in data["runs"]:
                    if run["job_id"] == model.session_id:
                        dataset = str(data["config"].get("dataset", "breast_cancer"))
                        return dataset, run.get("package_id", BUILTIN_PACKAGE)
        return "breast_cancer", BUILTIN_PACKAGE

    def _save(self, key: str, prediction_id: str, job_id: str, model_id: str, dataset: str) -> None:
        record = {"prediction_id": prediction_id, "job_id": job_id, "model_id": model_id,
                  "dataset": dataset}  # fmt: skip
        self.state.artifacts.write_bytes(key, json.dumps(record).encode())

    def all(self) -> list[Prediction]:
        """Every site's answer of every run, oldest first."""
        root = self.state.artifacts.path(ROOT)
        found: list[Prediction] = []
        if not root.is_dir():
            return found
        for entry in root.glob("*.json"):
            run = json.loads(entry.read_text())
            for u in self.state.store.list_updates(run["job_id"]):
                found.append(
                    Prediction(
                        prediction_id=u.task_id,
                        model_id=run["model_id"],
                        correlation_id=run["prediction_id"],
                        data=u.metrics,
                        sender=Sender(name=u.site, role="client", client_id=u.site),
                        timestamp=iso(u.received),
                    )
                )
        return sorted(found, key=lambda p: p.timestamp)
