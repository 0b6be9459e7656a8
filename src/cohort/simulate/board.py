"""The simulated server's state of one job: tasks, results and site failures.

It answers the sites as the fleet API does (same checks, same error codes) and keeps what the
workflow waits on. Time is counted per site: a task's clock runs only while its site is not
waiting for a run slot, so a round over 1,000 sites with 2 slots times out as it would with
every site running at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotAuthorized, NotFound
from cohort.schemas.fleet import TaskHeader
from cohort.schemas.policy import UpdateValidation
from cohort.schemas.records import UpdateRecord
from cohort.simulate.site import TaskOffer
from cohort.states import TaskStatus
from cohort.wire.payload import PayloadHeader, read_payload_file, write_hashed_payload
from cohort.wire.tensors import read_file_header
from cohort.workflows.validation import (
    UpdateCheck,
    check_update,
    describe_mismatch,
    tensor_shapes,
)

__all__ = ["Board", "SimTask", "TaskSender"]

_OPEN = (TaskStatus.PENDING, TaskStatus.FETCHED)


class TaskSender(Protocol):
    """Moves tasks to the sites of a back end."""

    def deliver(self, site: str, offer: TaskOffer) -> None:
        """Queue a task for a site."""

    def cancel(self, site: str, task_id: str) -> None:
        """Withdraw a task the site has not started."""

    def stop(self) -> None:
        """The job is over: every site's next fetch returns None."""


@dataclass
class SimTask:
    """One task for one site, and what became of it."""

    header: TaskHeader
    model_path: str
    clock0: float  # the site's clock when the task was created
    status: TaskStatus = TaskStatus.PENDING
    elapsed: float = 0.0  # seconds of the site's clock from creation to its result
    update: UpdateRecord | None = None
    failure: str = ""
    sha256: str = field(default="", repr=False)
    #: The screening verdict of the result, made by the thread that stored it (off the
    #: workflow's thread), and the rule it was made with; None when it was not screened.
    verdict: tuple[UpdateValidation, UpdateCheck] | None = field(default=None, repr=False)

    @property
    def site(self) -> str:
        """The site the task is for."""
        return self.header.site


class Board:
    """Tasks, results and failures of one simulated job; thread-safe."""

    def __init__(
        self,
        job_id: str,
        root: Path,
        sender: TaskSender | None = None,
        update_validation: UpdateValidation | None = None,
    ) -> None:
        self.job_id = job_id
        self.root = root
        self.sender = sender
        #: The job's screening rule: a train result is checked with it as it is stored, by
        #: the site's thread, so the workflow's thread (the round's critical path) only folds.
        self.update_validation = update_validation or UpdateValidation()
        self.cond = threading.Condition()
        self.tasks: dict[str, SimTask] = {}
        self.open: dict[str, SimTask] = {}
        self.events: list[str] = []  # ids of tasks as they settle, in order
        self.failed: dict[str, str] = {}  # site -> why its script ended
        self.site_errors: list[dict[str, Any]] = []
        self.exited: set[str] = set()
        self.job_over = False
        self._cancels: list[tuple[str, str]] = []
        self._waited: dict[str, float] = {}
        self._wait_since: dict[str, float] = {}

    # -- clocks -----------------------------------------------------------------------------
    def site_clock(self, site: str, now: float) -> float:
        """Seconds the site has spent not waiting for a run slot (call with ``cond`` held)."""
        since = self._wait_since.get(site)
        return now - self._waited.get(site, 0.0) - (now - since if since is not None else 0.0)

    def slot_wait(self, site: str, waiting: bool) -> None:
        """A site starts or stops waiting for a run slot: its clock stops or runs again."""
        now = time.monotonic()
        with self.cond:
            if waiting:
                self._wait_since[site] = now
            else:
                since = self._wait_since.pop(site, now)
                self._waited[site] = self._waited.get(site, 0.0) + (now - since)

    # -- the workflow's side ----------------------------------------------------------------
    def create_tasks(
        self, *, round: int, name: str, sites: list[str], model_path: str, meta: dict[str, Any]
    ) -> tuple[list[SimTask], dict[str, str]]:
        """Create tasks for the sites that can take them; say why the others cannot."""
        task_meta = dict(meta)
        total_rounds = int(task_meta.pop("total_rounds", 0))
        created: list[SimTask] = []
        skipped: dict[str, str] = {}
        now = time.monotonic()
        with self.cond:
            if self.job_over:
                raise Conflict(f"job {self.job_id} is over", code=ErrorCode.JOB_NOT_RUNNING)
            for site in sites:
                if site in self.failed:
                    first_line = self.failed[site].split("\n", 1)[0]
                    skipped[site] = f"its job process failed earlier ({first_line})"
                    continue
                header = TaskHeader(
                    task_id=str(uuid.uuid4()),
                    job_id=self.job_id,
                    site=site,
                    name=name,
                    current_round=round,
                    total_rounds=total_rounds,
                    meta=task_meta,
                )
                task = SimTask(header, model_path, self.site_clock(site, now))
                self.tasks[header.task_id] = task
                self.open[header.task_id] = task
                created.append(task)
        if self.sender is not None:
            for task in created:
                self.sender.deliver(task.site, TaskOffer(task.header, model_path))
        return created, skipped

    def settle(self, task: SimTask, status: TaskStatus, failure: str) -> None:
        """End an open task without a result (call with ``cond`` held, then
        :meth:`flush_cancels` without it): the site drops the task."""
        if task.status not in _OPEN:
            return
        task.status = status
        task.failure = failure
        del self.open[task.header.task_id]
        self.events.append(task.header.task_id)
        self._cancels.append((task.site, task.header.task_id))

    def flush_cancels(self) -> None:
        """Tell the sites about tasks settled without them (call without ``cond`` held)."""
        with self.cond:
            cancels, self._cancels = self._cancels, []
        if self.sender is not None:
            for site, task_id in cancels:
                self.sender.cancel(site, task_id)

    def finish(self) -> None:
        """The job is over: cancel open tasks and let every site's script end."""
        with self.cond:
            self.job_over = True
            for task in list(self.open.values()):
                self.settle(task, TaskStatus.CANCELLED, "the job ended")
            self.cond.notify_all()
        self.flush_cancels()
        if self.sender is not None:
            self.sender.stop()

    # -- the sites' side (SiteLink) ---------------------------------------------------------
    def _task_for(self, site: str, task_id: str) -> SimTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist", code=ErrorCode.TASK_NOT_FOUND)
        if task.site != site:
            raise NotAuthorized(f"task {task_id} is not a task of {site} in job {self.job_id}")
        return task

    def _check_open(self, task: SimTask, sha: str) -> bool:
        """False for a repeat of the stored result; Conflict if the task takes no result."""
        if task.status == TaskStatus.DONE:
            if task.sha256 == sha:
                return False
            raise Conflict(
                f"task {task.header.task_id} already has a different result",
                code=ErrorCode.TASK_NOT_ACTIVE,
            )
        if task.status not in _OPEN:
            raise Conflict(
                f"task {task.header.task_id} is {task.status}; its result is no longer wanted",
                code=ErrorCode.TASK_NOT_ACTIVE,
            )
        return True

    def submit_result(self, site: str, task: TaskHeader, payload: bytes) -> None:
        """Check a result as the fleet API does, store it, then record it."""
        sha = hashlib.sha256(payload).hexdigest()
        received = time.monotonic()
        with self.cond:
            sim = self._task_for(site, task.task_id)
            if not self._check_open(sim, sha):
                return
        tmp = self._incoming()
        try:
            tmp.write_bytes(payload)
            self._store(sim, tmp, sha, received)
        finally:
            tmp.unlink(missing_ok=True)

    def submit_params(
        self, site: str, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        """As :meth:`submit_result` for a result still as tensors (a site thread's): encoded
        straight into its file piece by piece, hashed on the way, never as a whole in memory."""
        received = time.monotonic()
        with self.cond:
            sim = self._task_for(site, task.task_id)
            if sim.status not in _OPEN and sim.status != TaskStatus.DONE:
                self._check_open(sim, "")  # raises: the task takes no result
        tmp = self._incoming()
        try:
            self._store(sim, tmp, write_hashed_payload(tmp, params, header), received)
        finally:
            tmp.unlink(missing_ok=True)

    def _incoming(self) -> Path:
        updates = self.root / "updates"
        updates.mkdir(exist_ok=True)
        return updates / f"incoming-{uuid.uuid4().hex}"

    def _store(self, sim: SimTask, tmp: Path, sha: str, received: float) -> None:
        """Check the result file ``tmp`` (header, shapes; then the screening), move it into
        place and record it, unless it repeats the stored result."""
        with self.cond:
            if not self._check_open(sim, sha):
                return
        head, site = sim.header, sim.header.site
        header = read_payload_file(tmp)
        if header.kind != "update":
            raise InvalidRequest("payload is not an update", code=ErrorCode.PAYLOAD_INVALID)
        verdict = None
        if head.name == "train":
            model = Path(sim.model_path)
            _check_shapes(model, tmp)
            rule = self.update_validation
            if rule.enabled:
                verdict = (rule, check_update(tmp, model, rule))
        key = f"updates/{head.current_round}-{head.name}-{site}-{head.task_id}"
        with self.cond:
            if not self._check_open(sim, sha):
                return
            os.replace(tmp, self.root / key)
            sim.update = UpdateRecord(
                task_id=head.task_id,
                job_id=self.job_id,
                site=site,
                round=head.current_round,
                path=key,
                sha256=sha,
                num_samples=header.num_samples if header.num_samples is not None else 1,
                metrics=header.metrics,
                received=time.time(),
            )
            sim.sha256 = sha
            sim.verdict = verdict
            sim.elapsed = self.site_clock(site, received) - sim.clock0
            sim.status = TaskStatus.DONE
            del self.open[head.task_id]
            self.events.append(head.task_id)
            self.cond.notify_all()

    def log_metrics(self, site: str, records: list[dict[str, Any]]) -> None:
        """Append metric records of a site (``flare.log``)."""
        path = self.root / "metrics" / f"{site}.jsonl"
        path.parent.mkdir(exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec) + "\n")

    def site_exited(self, site: str, code: int, error: str, tail: str) -> None:
        """A site's script ended: while the job runs, that fails the site's part of it."""
        with self.cond:
            self.exited.add(site)
            if self.job_over:
                return
            self.failed[site] = error
            self.site_errors.append(
                {
                    "site": site,
                    "error": error[:4000],
                    "traceback_tail": tail,
                    "time": time.time(),
                    "kind": "failed",
                }
            )
            for task in [t for t in self.open.values() if t.site == site]:
                self.settle(task, TaskStatus.FAILED, error)
            self.cond.notify_all()
        self.flush_cancels()


def _check_shapes(model: Path, upload: Path) -> None:
    """Refuse an update whose tensors differ from the global model's (names, dtypes, shapes),
    with the server's words for it."""
    expected = tensor_shapes(read_file_header(model))
    got = tensor_shapes(read_file_header(upload))
    if got != expected:
        raise InvalidRequest(
            describe_mismatch(expected, got), code=ErrorCode.MODEL_VALIDATION_FAILED
        )
