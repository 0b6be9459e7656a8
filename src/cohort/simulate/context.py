"""The simulator's :class:`WorkflowContext`: the same contract as the server job process's.

Models go to ``models/round-N.safetensors`` and updates to ``updates/`` under the workspace, as
under a job's folder in the server's artifact store. Results reach ``on_result`` in the order
of the sites the tasks went to (sorted), whatever order they arrive in, as the server job
process does (``cohort.workflows.inorder``): a simulation is reproducible to the bit and gives
a real federation's global model.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cohort.errors import ErrorCode, InvalidRequest, NotFound
from cohort.schemas.policy import UpdateValidation
from cohort.schemas.records import RoundRecord, UpdateRecord
from cohort.simulate.board import Board, SimTask
from cohort.states import TaskStatus
from cohort.wire.payload import PayloadHeader, iter_payload, write_hashed
from cohort.wire.tensors import TensorStream, iter_file_tensors
from cohort.workflows.base import RoundOutcome, WorkflowContext, check_file_name
from cohort.workflows.validation import UpdateCheck, rejection_record

__all__ = ["ProgressSink", "SimWorkflowContext"]

#: How often a waiting round checks task deadlines (seconds).
_TICK = 0.25


class ProgressSink(Protocol):
    """Where the context reports progress (the progress bar, or nothing)."""

    def progress(self, current_round: int, total_rounds: int, reason: str) -> None:
        """The workflow moved on."""

    def results(self, done: int, total: int) -> None:
        """Results of the current set of tasks so far."""

    def round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """A round's global model was evaluated."""


class SimWorkflowContext(WorkflowContext):
    """Workflow services over the in-process :class:`Board` and the workspace folder."""

    def __init__(
        self,
        board: Board,
        sites: list[str],
        min_clients: int,
        server_app_dir: Path,
        sink: ProgressSink,
        update_validation: UpdateValidation | None = None,
    ) -> None:
        self.job_id = board.job_id
        self.sites = list(sites)
        self.min_clients = min_clients
        self.update_validation = update_validation or UpdateValidation()
        self.board = board
        self.root = board.root
        self.server_app_dir = server_app_dir.resolve()
        self.sink = sink
        self.total_rounds = 0
        self.current_round: int | None = None
        self.status_reason = ""
        self.rounds: dict[int, RoundRecord] = {}
        self.log_path = self.root / "logs" / "server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

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
        """Create the tasks, then fold results in site order as they come in."""
        task_meta = {**(meta or {}), "total_rounds": self.total_rounds}
        model_path = str(self._path(model_key)) if model_key else ""
        batch, skipped = self.board.create_tasks(
            round=round, name=name, sites=sites, model_path=model_path, meta=task_meta
        )
        outcome = RoundOutcome(failures=dict(skipped))
        waiter = _RoundWaiter(self.board, batch, timeout, min_results, wait_after_min)
        self.sink.results(0, len(batch))
        while True:
            ready, finished = waiter.next_results()
            for update in ready:  # outside the board's lock: folding reads from disk
                reason = self.screen(update, task=name, model_key=model_key)
                if reason is not None:
                    outcome.rejected.append(update)
                    outcome.failures[update.site] = f"update rejected: {reason}"
                    continue
                on_result(update)
                outcome.updates.append(update)
            if ready:
                self.sink.results(len(outcome.updates), len(batch))
            if finished:
                break
        for task in batch:
            if task.status != TaskStatus.DONE:
                outcome.failures[task.site] = task.failure
        return outcome

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidRequest(f"key {key!r} is outside the workspace", ErrorCode.UNSAFE_PATH)
        return path

    def read_update(self, update: UpdateRecord) -> Iterator[tuple[str, np.ndarray]]:
        """Stream an update's tensors from the workspace."""
        return iter_file_tensors(self._path(update.path))

    def check_update(
        self, update: UpdateRecord, model_key: str, rule: UpdateValidation
    ) -> UpdateCheck:
        """The verdict the board made when it stored the update (in the site's thread, so
        the round's thread does not read every update twice), if made with this rule against
        this model; else the files' check."""
        task = self.board.tasks.get(update.task_id)
        made = task.verdict if task is not None else None
        if (
            made is not None
            and made[0] == rule
            and task is not None
            and task.model_path == str(self._path(model_key))
        ):
            return made[1]
        return super().check_update(update, model_key, rule)

    def artifact_path(self, key: str) -> Path:
        """The workspace file for ``key`` (never outside the workspace)."""
        return self._path(key)

    def record_rejection(self, update: UpdateRecord, reason: str) -> None:
        """Add the refusal to the simulation's site errors, as the server adds it to the job's."""
        record = rejection_record(update.site, update.round, update.task_id, reason, time.time())
        with self.board.cond:
            self.board.site_errors.append(record)
        self.log(f"round {update.round}: update of {update.site} rejected: {reason}")

    def app_model_path(self, relative_path: str) -> Path:
        """A model file of the server app folder (never outside it)."""
        path = (self.server_app_dir / relative_path).resolve()
        if not path.is_relative_to(self.server_app_dir):
            raise InvalidRequest(
                f"initial model {relative_path!r} is outside the server app folder",
                ErrorCode.UNSAFE_PATH,
            )
        if not path.is_file():
            raise NotFound(f"initial model {relative_path!r} is not in the server app folder")
        return path

    def save_global_model(
        self,
        round: int,
        params: dict[str, np.ndarray] | TensorStream,
        num_updates: int,
        num_samples: int,
    ) -> str:
        """Write the model atomically, piece by piece, then record the round."""
        key = f"models/round-{round}.safetensors"
        header = PayloadHeader(kind="model", current_round=round, total_rounds=self.total_rounds)
        sha256 = _write_atomic_pieces(self.root / key, iter_payload(params, header)[1])
        self.rounds[round] = RoundRecord(
            job_id=self.job_id,
            round=round,
            model_path=key,
            model_sha256=sha256,
            num_updates=num_updates,
            num_samples=num_samples,
            created=time.time(),
        )
        return key

    def save_model(self, name: str, params: dict[str, np.ndarray]) -> str:
        """Write a work model under ``models/work/`` (no round is recorded)."""
        key = f"models/work/{check_file_name(name)}.safetensors"
        header = PayloadHeader(kind="model", total_rounds=self.total_rounds)
        _write_atomic_pieces(self.root / key, iter_payload(params, header)[1])
        return key

    def save_result_file(self, name: str, data: bytes) -> None:
        """Write ``results/<name>``, which the result folder carries as workspace/<name>."""
        _write_atomic(self.root / "results" / check_file_name(name), data)

    def set_round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """Merge metrics into a round's (as the store does); none when empty."""
        if not metrics:
            return
        record = self.rounds.get(round)
        if record is None:
            raise NotFound(f"job {self.job_id} has no round {round}", ErrorCode.NOT_FOUND)
        merged = {**record.metrics, **{k: float(v) for k, v in metrics.items()}}
        self.rounds[round] = record.model_copy(update={"metrics": merged})
        self.sink.round_metrics(round, merged)

    def set_progress(self, current_round: int, total_rounds: int, reason: str = "") -> None:
        """Record where the workflow is, and log it."""
        self.total_rounds = total_rounds
        self.current_round = current_round
        self.status_reason = reason
        self.sink.progress(current_round, total_rounds, reason)
        self.log(reason)

    def log(self, message: str) -> None:
        """Append a line to the job's server log."""
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def _write_atomic(target: Path, data: bytes) -> None:
    _write_atomic_pieces(target, [data])


def _write_atomic_pieces(target: Path, pieces: Iterable[bytes]) -> str:
    """Write ``pieces`` beside ``target`` and rename; return their sha256. Nothing is left
    behind when producing a piece fails (a tiled mean's update file cut short)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    try:
        with tmp.open("wb") as out:
            sha = write_hashed(out, pieces)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return sha


class _RoundWaiter:
    """Waits on one set of tasks with the server's rules, on the sites' clocks.

    On a real federation the sites work at once: a task times out ``timeout`` seconds after it
    was sent, and once ``min_results`` results are in (at time T) the open tasks are closed
    ``wait_after_min`` seconds later. Here sites take turns for run slots, so each task is
    measured on its own site's clock, which stops while the site waits for a slot: a task
    times out after ``timeout`` seconds of it, and is closed after T + ``wait_after_min``, T
    being when the ``min_results``-th result was ready on its site's clock.
    """

    def __init__(
        self,
        board: Board,
        batch: list[SimTask],
        timeout: float,
        min_results: int,
        wait_after_min: float,
    ) -> None:
        self.board = board
        self.batch = batch
        self.timeout = timeout
        self.min_results = min_results
        self.wait_after_min = wait_after_min
        self.cursor = 0  # next task (in site order) to hand over
        self.mine = {t.header.task_id for t in batch}
        self.seen = len(board.events)
        self.done_elapsed: list[float] = []  # sorted
        self.next_check = 0.0

    def next_results(self) -> tuple[list[UpdateRecord], bool]:
        """Block until results can be handed over in order, or the set is done; return the
        results and whether every task is settled and handed over."""
        board = self.board
        with board.cond:
            while True:
                events = board.events[self.seen :]
                self.seen += len(events)
                for task_id in events:
                    task = board.tasks[task_id]
                    if task_id in self.mine and task.status == TaskStatus.DONE:
                        bisect.insort(self.done_elapsed, task.elapsed)
                now = time.monotonic()
                if now >= self.next_check:
                    self._check_clocks(now)
                    self.next_check = now + _TICK
                ready: list[UpdateRecord] = []
                while self.cursor < len(self.batch) and self.batch[self.cursor].status not in (
                    TaskStatus.PENDING,
                    TaskStatus.FETCHED,
                ):
                    update = self.batch[self.cursor].update
                    if update is not None:
                        ready.append(update)
                    self.cursor += 1
                finished = self.cursor == len(self.batch)
                if ready or finished:
                    break
                board.cond.wait(_TICK)
        board.flush_cancels()
        return ready, finished

    def _check_clocks(self, now: float) -> None:
        board = self.board
        close_at: float | None = None
        if self.min_results <= 0:
            close_at = self.wait_after_min
        elif len(self.done_elapsed) >= self.min_results:
            close_at = self.done_elapsed[self.min_results - 1] + self.wait_after_min
        for task in self.batch[self.cursor :]:
            if task.header.task_id not in board.open:
                continue
            elapsed = board.site_clock(task.site, now) - task.clock0
            if elapsed > self.timeout:
                board.settle(task, TaskStatus.TIMEOUT, "no result before the task timeout")
            elif close_at is not None and elapsed >= close_at:
                board.settle(task, TaskStatus.CANCELLED, "round closed before it answered")
