"""Models over the REST API: the global model of a round, its download, and clients' updates
(uploaded for their open task of the active round, or only validated).

A model id is ``model_<experiment id>_round_<r>``; the file is the stored safetensors global
model, streamed as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from cohort.schemas.job import JobMeta
from cohort.schemas.records import JobRecord, RoundRecord
from cohort.schemas.rest import GlobalModel, UpdateReceived, ValidationReport
from cohort.server.services.events import iso
from cohort.server.services.fleet import FleetService
from cohort.server.services.retention import pruned_error
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL
from cohort.tls import Identity
from cohort.wire.tensors import read_file_header
from cohort.workflows.validation import check_update, tensor_shapes

__all__ = ["FORMATS", "ModelService", "model_id"]

#: Formats a global model can be served in: the stored safetensors file only.
FORMATS = ("safetensors",)
MB = 1024 * 1024


def model_id(job_id: str, rnd: int) -> str:
    """The REST id of a round's global model."""
    return f"model_{job_id}_round_{rnd}"


def _metric(record: RoundRecord, *names: str) -> float | None:
    for name in names:
        if name in record.metrics:
            return record.metrics[name]
    return None


class ModelService:
    """Global models and client updates."""

    def __init__(self, state: ServerState, fleet: FleetService) -> None:
        self.state = state
        self.fleet = fleet

    def trail(self, job: JobRecord) -> list[RoundRecord]:
        """The experiment's stored global models, by round."""
        return self.state.store.list_rounds(job.job_id)

    def pick(self, job: JobRecord, rnd: int | None) -> RoundRecord:
        """Round ``rnd``'s global model (the newest when None); NOT_FOUND if there is none."""
        trail = self.trail(job)
        chosen = trail[-1:] if rnd is None else [r for r in trail if r.round == rnd]
        if not chosen:
            raise NotFound(
                f"experiment {job.job_id} has no global model"
                + ("" if rnd is None else f" for round {rnd}"),
                details={"experiment_id": job.job_id, "round": rnd},
            )
        if not self.state.artifacts.exists(chosen[0].model_path):
            raise pruned_error(chosen[0])
        return chosen[0]

    def describe(self, job: JobRecord, record: RoundRecord, fmt: str) -> GlobalModel:
        """The seed's description of one global model."""
        if fmt not in FORMATS:
            raise InvalidRequest(
                f"format {fmt!r} is not available",
                hint=f"Global models are stored as {', '.join(FORMATS)}; convert them locally.",
                details={"format": fmt, "formats": list(FORMATS)},
            )
        path = self.state.artifacts.path(record.model_path)
        count = sum(
            int(np.prod(shape)) for _, shape in tensor_shapes(read_file_header(path)).values()
        )
        mid = model_id(job.job_id, record.round)
        return GlobalModel(
            model_id=mid,
            experiment_id=job.job_id,
            round=record.round,
            accuracy=_metric(record, "accuracy", "local_accuracy"),
            loss=_metric(record, "loss", "local_loss"),
            parameters_count=count,
            model_size_mb=round(path.stat().st_size / MB, 6),
            format=fmt,
            sha256=record.model_sha256,
            created_at=iso(record.created),
            download_url=f"/api/v1/model/download/{mid}",
        )

    def file(self, mid: str) -> Path:
        """The stored file of a model id; NOT_FOUND for an unknown one."""
        job_id, sep, rnd = mid.removeprefix("model_").rpartition("_round_")
        if not mid.startswith("model_") or not sep or not rnd.isdigit():
            raise NotFound(f"model {mid!r} not found", details={"model_id": mid})
        try:
            job = self.state.store.get_job(job_id)
            record = self.pick(job, int(rnd))
        except NotFound:
            raise NotFound(f"model {mid!r} not found", details={"model_id": mid}) from None
        return self.state.artifacts.path(record.model_path)

    async def upload(
        self, client_id: str, job: JobRecord, body: AsyncIterator[bytes]
    ) -> UpdateReceived:
        """A registered client's update for its open train task of the active round, stored
        and checked exactly as a site's upload (``FleetService.accept_update``)."""
        if job.status in JOB_TERMINAL:
            raise Conflict(f"experiment {job.job_id} has ended", ErrorCode.EXPERIMENT_NOT_ACTIVE)
        tasks = [
            t for t in self.state.store.open_tasks_for(job.job_id, client_id) if t.name == "train"
        ]
        if not tasks:
            raise Conflict(
                f"client {client_id!r} has no open training task in experiment {job.job_id}",
                ErrorCode.ROUND_NOT_ACTIVE,
                hint="Updates are taken while the client takes part in the active round.",
                details={"client_id": client_id, "round": job.current_round},
            )
        task = tasks[0]
        as_site = Identity(name=client_id, org="", role="site")
        receipt = await self.fleet.accept_update(as_site, job.job_id, task.task_id, body)
        size = self.state.artifacts.path(self._update_path(job, task.task_id)).stat().st_size
        return UpdateReceived(
            update_id=f"update_{task.task_id}",
            client_id=client_id,
            round=task.round,
            status="duplicate" if receipt.duplicate else "received",
            model_size_mb=round(size / MB, 6),
            received_at=iso(),
            # Format, names, dtypes and shapes passed at upload; values (finite, norm bound)
            # are checked before aggregation, where a refusal is recorded in the job.
            validation_status="pending",
        )

    def _update_path(self, job: JobRecord, task_id: str) -> str:
        for update in self.state.store.list_updates(job.job_id):
            if update.task_id == task_id:
                return update.path
        raise NotFound(f"update of task {task_id} not found")

    async def validate(
        self, client_id: str, job: JobRecord, body: AsyncIterator[bytes]
    ) -> ValidationReport:
        """Check an update against the experiment's newest global model without keeping it:
        tensor names, dtypes and shapes match, and every value is finite."""
        reference = self.pick(job, None)
        key = f"rest/incoming/{uuid.uuid4().hex}"
        arts = self.state.artifacts
        await arts.write_async_stream(key, body, self.state.config.max_update_bytes)
        path = arts.path(key)
        try:
            rule = JobMeta.model_validate(job.meta).policies.update_validation
            # The checks run before aggregation, whether or not the job switched them off.
            verdict = check_update(path, arts.path(reference.model_path), rule)
        finally:
            path.unlink(missing_ok=True)
        return ValidationReport(
            client_id=client_id,
            experiment_id=job.job_id,
            round=reference.round,
            valid=verdict.ok,
            checks=verdict.checks,
            errors=verdict.errors,
            timestamp=iso(),
        )
