"""The model trail of the edge API.

A model is a round's global model of a job (id ``model_<job>_round_<r>``, as REST v1 names
it) or a seed model uploaded with ``set_active_model`` (id ``seed_<hex>``, kept as
safetensors). Each global model's parent is the previous round's; round 0's parent is the
model the job started from (the seed, or the last model of the run it continues), as its
session recorded it.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np

from cohort.errors import InvalidRequest, NotFound
from cohort.schemas.edge import EdgeModel
from cohort.schemas.records import JobRecord, RoundRecord
from cohort.server.services.edge_records import RecordLog
from cohort.server.services.events import iso
from cohort.server.services.models import model_id
from cohort.server.state import ServerState
from cohort.store import JobFilter
from cohort.wire.tensors import encode_tensors

__all__ = ["EdgeModelService", "npz_to_safetensors"]

SEEDS = "edge/seeds"


def npz_to_safetensors(data: bytes) -> bytes:
    """An uploaded ``.npz`` (numpyhelper) as safetensors; INVALID_REQUEST if it is not one.
    Pickled object arrays are refused: nothing received is unpickled."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            params = {name: np.ascontiguousarray(npz[name]) for name in npz.files}
    except (ValueError, OSError) as exc:
        raise InvalidRequest(
            f"not a numpy .npz model: {exc}", hint="Save it with numpy.savez."
        ) from exc
    if not params:
        raise InvalidRequest("the .npz model holds no arrays")
    return encode_tensors(params)


class EdgeModelService:
    """Models: the global models of every job and the uploaded seeds."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.seed_log = RecordLog(state, "seeds")

    # -- models -----------------------------------------------------------------------------
    def _parents(self) -> dict[str, str]:
        """job id -> the model its round 0 started from (recorded by sessions)."""
        root = self.state.artifacts.path("edge/sessions")
        found: dict[str, str] = {}
        if root.is_dir():
            for entry in root.glob("*.json"):
                for run in json.loads(entry.read_text())["runs"]:
                    if run.get("parent_model"):
                        found[run["job_id"]] = run["parent_model"]
        return found

    def _global(self, job: JobRecord, rec: RoundRecord, parents: dict[str, str]) -> EdgeModel:
        mid = model_id(job.job_id, rec.round)
        parent = model_id(job.job_id, rec.round - 1) if rec.round > 0 else parents.get(job.job_id)
        return EdgeModel(
            model_id=mid,
            model=mid,
            parent_model=parent,
            session_id=job.job_id,
            round=rec.round,
            committed_at=iso(rec.created),
            sha256=rec.model_sha256,
            num_updates=rec.num_updates,
            num_samples=rec.num_samples,
            metrics=rec.metrics,
        )

    def _seed(self, record: dict[str, str]) -> EdgeModel:
        return EdgeModel(
            model_id=record["model_id"],
            model=record["model_id"],
            parent_model=None,
            session_id=None,
            round=None,
            committed_at=record["committed_at"],
            sha256=record["sha256"],
        )

    def all(self) -> list[EdgeModel]:
        """Every model, oldest first (by commit time)."""
        parents = self._parents()
        found = [self._seed(r) for r in self.seed_log.all()]
        for job in self.state.store.list_jobs(JobFilter()):
            found += [
                self._global(job, r, parents) for r in self.state.store.list_rounds(job.job_id)
            ]
        return sorted(found, key=lambda m: m.committed_at)

    def get(self, mid: str) -> EdgeModel:
        """One model; NOT_FOUND for an unknown id."""
        for model in self.all():
            if model.model_id == mid:
                return model
        raise NotFound(f"model {mid!r} not found", details={"model_id": mid})

    def ancestors(self, mid: str, include_self: bool) -> list[EdgeModel]:
        """The trail from ``mid`` back to its root, newest first."""
        by_id = {m.model_id: m for m in self.all()}
        if mid not in by_id:
            raise NotFound(f"model {mid!r} not found", details={"model_id": mid})
        trail: list[EdgeModel] = []
        current: str | None = mid
        while current is not None and current in by_id and len(trail) <= len(by_id):
            trail.append(by_id[current])
            current = by_id[current].parent_model
        return trail if include_self else trail[1:]

    def file(self, mid: str) -> Path:
        """The stored safetensors file of a model."""
        model = self.get(mid)
        if model.session_id is None:
            return self.state.artifacts.path(f"{SEEDS}/{mid}.safetensors")
        assert model.round is not None
        for rec in self.state.store.list_rounds(model.session_id):
            if rec.round == model.round:
                return self.state.artifacts.path(rec.model_path)
        raise NotFound(f"model {mid!r} not found", details={"model_id": mid})  # pragma: no cover

    def add_seed(self, data: bytes) -> EdgeModel:
        """Store an uploaded .npz model as a new root of the trail (the active model)."""
        tensors = npz_to_safetensors(data)
        mid = f"seed_{uuid.uuid4().hex[:16]}"
        sha = self.state.artifacts.write_bytes(f"{SEEDS}/{mid}.safetensors", tensors)
        record = {"model_id": mid, "sha256": sha, "committed_at": iso(self.state.clock())}
        return self._seed(self.seed_log.append(record))
