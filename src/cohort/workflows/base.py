"""What a workflow may do: the context it runs in (real server or simulator) and its result."""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from cohort.errors import ErrorCode, InvalidRequest
from cohort.schemas.policy import UpdateValidation
from cohort.schemas.records import UpdateRecord
from cohort.wire.tensors import TensorStream, iter_file_tensors
from cohort.workflows.validation import UpdateCheck, check_update

__all__ = ["RoundOutcome", "Workflow", "WorkflowContext", "WorkflowFailed", "check_file_name"]

#: Names a workflow may give stored models and result files: no folders, no dot files.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_file_name(name: str) -> str:
    """Return ``name`` if it is a plain file name (UNSAFE_PATH otherwise)."""
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise InvalidRequest(f"{name!r} is not a plain file name", ErrorCode.UNSAFE_PATH)
    return name


class WorkflowFailed(Exception):
    """Raised by a workflow to end its job FINISHED_EXCEPTION with this message."""


@dataclass
class RoundOutcome:
    """What came back from one set of tasks."""

    updates: list[UpdateRecord] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # site -> why it has no result
    aborted: bool = False
    rejected: list[UpdateRecord] = field(default_factory=list)  # refused by validation


class WorkflowContext(abc.ABC):
    """The services a workflow uses. The server and the simulator each implement it."""

    job_id: str
    sites: list[str]
    min_clients: int
    #: The job's ``policies.update_validation``; each context sets it from the job's meta.
    update_validation: UpdateValidation = UpdateValidation()

    def screen(self, update: UpdateRecord, *, task: str, model_key: str) -> str | None:
        """Validate a training result against the model its task carried, before any
        workflow sees it: the one place every workflow's updates pass (each context's
        ``run_tasks`` calls it). Returns why the update is refused (after recording it with
        :meth:`record_rejection`), or None when it may be aggregated. Results of other tasks
        (validation metrics, an initial model) have no global model to match."""
        rule = self.update_validation
        if task != "train" or not model_key or not rule.enabled:
            return None
        verdict = self.check_update(update, model_key, rule)
        if verdict.ok:
            return None
        self.record_rejection(update, verdict.reason)
        return verdict.reason

    def check_update(
        self, update: UpdateRecord, model_key: str, rule: UpdateValidation
    ) -> UpdateCheck:
        """The verdict of ``rule`` on an update against the model at ``model_key``: the files'
        check (:func:`check_update`); a context that checked the update already when it
        stored it (the simulator's) returns that verdict instead."""
        return check_update(self.artifact_path(update.path), self.artifact_path(model_key), rule)

    @abc.abstractmethod
    def artifact_path(self, key: str) -> Path:
        """Local path of a stored model or update (never outside the job's storage)."""

    @abc.abstractmethod
    def record_rejection(self, update: UpdateRecord, reason: str) -> None:
        """Keep a refused update's site, round and reason where the job's status shows it."""

    @abc.abstractmethod
    def run_tasks(
        self,
        *,
        round: int,
        name: str,
        sites: list[str],
        model_key: str,
        timeout: float,
        min_results: int,
        wait_after_min: float,
        on_result: Callable[[UpdateRecord], None],
        meta: dict[str, Any] | None = None,
    ) -> RoundOutcome:
        """Send task ``name`` with the model at ``model_key`` to ``sites``; call ``on_result``
        for each result in the order of ``sites`` (a result is handed over once the sites
        before it answered or failed), so aggregates do not depend on arrival order; return
        when every site answered or failed, or ``wait_after_min`` seconds after
        ``min_results`` answered, or at ``timeout``."""

    @abc.abstractmethod
    def read_update(self, update: UpdateRecord) -> Iterator[tuple[str, np.ndarray]]:
        """Yield an update's tensors one at a time."""

    @abc.abstractmethod
    def app_model_path(self, relative_path: str) -> Path:
        """The file of a safetensors model shipped in the job's server app folder (never
        outside it)."""

    def load_app_model(self, relative_path: str) -> dict[str, np.ndarray]:
        """Load a safetensors model shipped in the job's server app folder."""
        return dict(iter_file_tensors(self.app_model_path(relative_path)))

    @abc.abstractmethod
    def save_global_model(
        self,
        round: int,
        params: dict[str, np.ndarray] | TensorStream,
        num_updates: int,
        num_samples: int,
    ) -> str:
        """Store the round's global model and record it in the model trail; return its key.
        A :class:`TensorStream` (the tiled mean) is written as its pieces come, and nothing
        is stored when producing them fails."""

    @abc.abstractmethod
    def save_model(self, name: str, params: dict[str, np.ndarray]) -> str:
        """Store a model that is not a round's global model (a cyclic hand-over, a site's
        model for cross-site evaluation) under ``name`` (a plain file stem); return its key,
        which ``run_tasks`` can send."""

    @abc.abstractmethod
    def save_result_file(self, name: str, data: bytes) -> None:
        """Store a file the job's result carries as ``workspace/<name>`` (a plain name)."""

    @abc.abstractmethod
    def set_round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """Attach the sites' evaluation to a round's global model."""

    @abc.abstractmethod
    def set_progress(self, current_round: int, total_rounds: int, reason: str = "") -> None:
        """Report progress (shown by job meta, monitor and events)."""

    @abc.abstractmethod
    def log(self, message: str) -> None:
        """Write a line to the server job log."""

    def set_retention(self, keep_rounds: int | None, best_metric: str | None) -> None:  # noqa: B027
        """Keep only the last ``keep_rounds`` global models (plus the round with the highest
        ``best_metric``); None keeps every one. The server applies it; the simulator keeps
        every round."""

    def checkpoint(self) -> tuple[int, str, dict[str, np.ndarray]] | None:
        """For a job resumed after a server restart: its last completed round, that round's
        global model key and tensors. None for a job that starts afresh (always, in the
        simulator)."""
        return None


class Workflow(abc.ABC):
    """Server-side logic of a job, built from the app's ``args``."""

    #: True when the workflow's whole state after a round is that round's global model, so
    #: a job can resume from its last completed round after a server restart (see
    #: :meth:`WorkflowContext.checkpoint`). Workflows with more state (server optimizer
    #: moments, control variates, a cyclic order) say False and are settled ABANDONED.
    resumable: ClassVar[bool] = False

    def __init__(self, **args: Any) -> None:
        self.args = args

    @abc.abstractmethod
    def run(self, ctx: WorkflowContext) -> None:
        """Run the job to its end; raise :class:`WorkflowFailed` to fail it."""
