"""Predictions of the edge API: a prediction run is a job of the ``predict`` workflow that
sends one model to the sites; each site's answer (its prediction metrics) is a prediction.

A run keeps a descriptor at ``edge/predictions/<id>.json`` (its job and model); its job id is
``predict-<id>`` so ``cohort job list`` shows it and sessions leave it out.
"""

from __future__ import annotations

import json
import uuid

from cohort.errors import Conflict, InvalidRequest
from cohort.recipes.predict import PredictRecipe
from cohort.schemas.edge import Prediction, Sender
from cohort.server.services.edge_models import EdgeModelService
from cohort.server.services.events import iso
from cohort.server.services.jobs import JobService
from cohort.server.services.recipe_jobs import TabularJob
from cohort.server.state import ServerState
from cohort.tls import Identity

__all__ = ["JOB_PREFIX", "PredictionService"]

#: Prediction jobs' ids start with this.
JOB_PREFIX = "predict-"
ROOT = "edge/predictions"


class PredictionService:
    """Start prediction runs and read their results."""

    def __init__(self, state: ServerState, jobs: JobService, models: EdgeModelService) -> None:
        self.state = state
        self.jobs = jobs
        self.models = models

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
        path = self.models.file(model_id)
        connected = [s.name for s in self.state.connected_sites()]
        sites = client_ids or connected
        unknown = sorted(set(sites) - set(connected))
        if unknown or not sites:
            raise InvalidRequest(
                f"clients not connected: {unknown}" if unknown else "no client is connected",
                details={"connected": connected},
            )
        job_id = f"{JOB_PREFIX}{prediction_id}"
        dataset = self._dataset_of(model_id)
        archive = TabularJob(
            name=f"predict {model_id}",
            dataset=dataset,
            rounds=1,
            min_clients=len(sites),
            shares=max(len(connected), 1),
            epochs=1,
            lr=0.1,
            task_timeout=timeout or 300.0,
            sites=sites,
            initial_model=path,
            recipe=PredictRecipe,
        )
        self._save(key, prediction_id, job_id, model_id, dataset)
        self.jobs.submit(who, archive.archive(self.state.config.max_job_bytes), job_id=job_id)
        return {"prediction_id": prediction_id, "job_id": job_id, "model_id": model_id}

    def _dataset_of(self, model_id: str) -> str:
        """The data set the model's session trained on (the built-in package's)."""
        model = self.models.get(model_id)
        root = self.state.artifacts.path("edge/sessions")
        if model.session_id is not None and root.is_dir():
            for entry in root.glob("*.json"):
                data = json.loads(entry.read_text())
                if any(r["job_id"] == model.session_id for r in data["runs"]):
                    return str(data["config"].get("dataset", "breast_cancer"))
        return "breast_cancer"

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
