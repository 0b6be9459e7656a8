"""The server job process: runs one job's workflow, talking to the API process over mTLS.

Started by :class:`cohort.server.launcher.JobLauncher` as ``python -m cohort.server.job_process``
with the job id, the server URL, the server kit and the artifact root in its environment.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from cohort.errors import CohortError, ErrorCode
from cohort.faults import fault_point
from cohort.httpclient import check_response, connection_error, kit_client
from cohort.jobfolder import SERVER_CONFIG
from cohort.logconfig import DEFAULT_LEVEL, DEFAULT_MODE, FORMATS, LogConfigWatcher
from cohort.proc import die_with_parent
from cohort.provision.kit import load_kit
from cohort.schemas.job import JobMeta, ServerAppConfig
from cohort.schemas.records import RoundRecord, UpdateRecord
from cohort.server.job_env import RESUME_ENV
from cohort.states import JOB_TERMINAL
from cohort.store import FileArtifactStore
from cohort.store.artifacts import TEMP_SUFFIX
from cohort.wire.payload import PayloadHeader, iter_payload
from cohort.wire.tensors import TensorStream, iter_file_tensors
from cohort.workflows import WORKFLOWS
from cohort.workflows.base import RoundOutcome, WorkflowContext, WorkflowFailed, check_file_name
from cohort.workflows.inorder import InOrder

__all__ = ["HttpWorkflowContext", "main"]

TRACE = bool(os.environ.get("COHORT_TRACE"))
log = logging.getLogger("cohort.job")


class HttpWorkflowContext(WorkflowContext):
    """Workflow services backed by the API process's internal routes and the artifact store."""

    def __init__(
        self, job_id: str, http: httpx.Client, artifacts: FileArtifactStore, meta: JobMeta
    ) -> None:
        self.job_id = job_id
        self.http = http
        self.artifacts = artifacts
        self.meta = meta
        self.base = f"/internal/v1/jobs/{job_id}"
        self.total_rounds = 0
        self.pending_progress: dict[str, Any] | None = None
        self.pending_metrics: dict[int, dict[str, float]] = {}
        self.retention: dict[str, Any] = {}  # keep_rounds / best_metric, sent with each round
        #: Started again after a server restart: continue from the last completed round.
        self.resuming = os.environ.get(RESUME_ENV) == "1"
        job = self.call("GET", "")
        self.sites = list(job["sites"])
        self.min_clients = meta.min_clients
        self.update_validation = meta.policies.update_validation

    def bookkeeping(self) -> dict[str, Any] | None:
        """Take the deferred progress and metrics, to send along with the next call."""
        if self.pending_progress is None and not self.pending_metrics:
            return None
        taken = {"progress": self.pending_progress, "round_metrics": self.pending_metrics}
        self.pending_progress, self.pending_metrics = None, {}
        return taken

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call an internal route of this job, retrying transport failures for a minute."""
        url = f"{self.base}{path}"
        delay = 0.2
        deadline = time.monotonic() + 60.0
        while True:
            try:
                response = self.http.request(method, url, **kwargs)
                break
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise connection_error(str(self.http.base_url), exc) from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        check_response(response)
        if log.isEnabledFor(logging.DEBUG):  # COHORT_TRACE=1 or `job log-config <id> DEBUG`
            log.debug("%s %s %.1f ms", method, path, response.elapsed.total_seconds() * 1000)
        return response.json() if response.content else None

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
        """Create the tasks, then long-poll their state; results go to ``on_result`` in task
        order (:class:`InOrder`), so the aggregate does not depend on arrival order."""
        task_meta = {**(meta or {}), "total_rounds": self.total_rounds}
        batch = self.call(
            "POST",
            "/tasks",
            json={
                "round": round,
                "name": name,
                "sites": sites,
                "model_key": model_key,
                "timeout": timeout,
                "meta": task_meta,
                "reuse": self.resuming,
                "bookkeeping": self.bookkeeping(),
            },
        )
        outcome = RoundOutcome(failures=dict(batch["skipped"]))
        task_ids = [t["task_id"] for t in batch["tasks"]]

        def screen(update: UpdateRecord) -> str | None:
            return self.screen(update, task=name, model_key=model_key)

        order = InOrder(task_ids, on_result, outcome, screen)
        version = -1
        min_reached_at: float | None = None
        deadline = (
            time.monotonic() + timeout + 5.0
        )  # the server times tasks out; this is a backstop
        while task_ids:
            state = self.call(
                "POST",
                "/tasks/state",
                json={"task_ids": task_ids, "since": version, "wait": 10.0},
            )
            version = state["version"]
            order.add(
                [UpdateRecord.model_validate(raw) for raw in state["updates"]],
                [t["task_id"] for t in state["tasks"] if t["status"] not in ("PENDING", "FETCHED")],
            )
            outcome.failures.update(state["failures"])
            if state["job_status"] in JOB_TERMINAL:
                outcome.aborted = True
                return outcome
            open_ids = [
                t["task_id"] for t in state["tasks"] if t["status"] in ("PENDING", "FETCHED")
            ]
            if not open_ids:
                break
            now = time.monotonic()
            if order.received >= min_results and min_reached_at is None:
                min_reached_at = now
            if (min_reached_at is not None and now - min_reached_at >= wait_after_min) or (
                now > deadline
            ):
                self.call("POST", "/tasks/close", json={"task_ids": open_ids})
                for task in state["tasks"]:
                    if task["task_id"] in open_ids:
                        outcome.failures.setdefault(task["site"], "round closed before it answered")
                break
        order.flush()
        return outcome

    def read_update(self, update: UpdateRecord) -> Iterator[tuple[str, np.ndarray]]:
        """Stream an update's tensors from the artifact store."""
        return iter_file_tensors(self.artifacts.path(update.path))

    def artifact_path(self, key: str) -> Path:
        """The artifact store's file for ``key``."""
        return self.artifacts.path(key)

    def record_rejection(self, update: UpdateRecord, reason: str) -> None:
        """Record the refusal in the job's site errors (and so the site's trust score)."""
        self.call("POST", "/rejections", json={"task_id": update.task_id, "reason": reason})
        self.log(f"round {update.round}: update of {update.site} rejected: {reason}")

    def app_model_path(self, relative_path: str) -> Path:
        """A model file of the server app folder (never outside it)."""
        app = self.meta.server_app() or ""
        return self.artifacts.path(f"jobs/{self.job_id}/job/{app}/{relative_path}")

    def save_global_model(
        self,
        round: int,
        params: dict[str, np.ndarray] | TensorStream,
        num_updates: int,
        num_samples: int,
    ) -> str:
        """Write the model atomically, then record the round."""
        key = f"jobs/{self.job_id}/models/round-{round}.safetensors"
        header = PayloadHeader(kind="model", current_round=round, total_rounds=self.total_rounds)
        target = self.artifacts.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside its key piece by piece (no encoded copy of the model next to the
        # arrays) and renamed (adopt): a crash leaves the last round intact.
        tmp = target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")
        try:
            with tmp.open("wb") as out:
                for piece in iter_payload(params, header)[1]:
                    out.write(piece)
        except BaseException:  # a tiled mean that failed half-way leaves nothing behind
            tmp.unlink(missing_ok=True)
            raise
        fault_point("global_model_write")
        self.artifacts.adopt(key, tmp)
        self.call(
            "POST",
            "/rounds",
            json={
                "round": round,
                "model_key": key,
                "num_updates": num_updates,
                "num_samples": num_samples,
                "retention": self.retention,
                "bookkeeping": self.bookkeeping(),
            },
        )
        fault_point("round_saved")
        return key

    def set_retention(self, keep_rounds: int | None, best_metric: str | None) -> None:
        """Sent with every round; the API process prunes older models after recording it."""
        self.retention = {"keep_rounds": keep_rounds, "best_metric": best_metric}

    def checkpoint(self) -> tuple[int, str, dict[str, np.ndarray]] | None:
        """The last recorded round, when resuming; its model is checked against the
        checksum the store recorded before it is used."""
        if not self.resuming:
            return None
        rounds = [RoundRecord.model_validate(r) for r in self.call("GET", "/rounds")]
        if not rounds:
            return None
        last = rounds[-1]
        if self.artifacts.sha256(last.model_path) != last.model_sha256:
            raise WorkflowFailed(f"round {last.round}'s global model changed on disk")
        params = dict(iter_file_tensors(self.artifacts.path(last.model_path)))
        return last.round, last.model_path, params

    def save_model(self, name: str, params: dict[str, np.ndarray]) -> str:
        """Write a work model under ``models/work/`` (no round is recorded)."""
        key = f"jobs/{self.job_id}/models/work/{check_file_name(name)}.safetensors"
        header = PayloadHeader(kind="model", total_rounds=self.total_rounds)
        self.artifacts.write_stream(key, iter_payload(params, header)[1])
        return key

    def save_result_file(self, name: str, data: bytes) -> None:
        """Write ``results/<name>``, which the result archive carries as workspace/<name>."""
        self.artifacts.write_bytes(f"jobs/{self.job_id}/results/{check_file_name(name)}", data)

    def set_round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """Attach metrics to a round; sent with the next call (none when empty)."""
        if metrics:
            self.pending_metrics[round] = metrics

    def set_progress(self, current_round: int, total_rounds: int, reason: str = "") -> None:
        """Report progress; sent with the next call (tasks, round, or finish)."""
        self.total_rounds = total_rounds
        self.pending_progress = {
            "current_round": current_round,
            "total_rounds": total_rounds,
            "reason": reason,
        }
        self.log(reason)

    def finish(self, ok: bool, reason: str) -> None:
        """End the job, with any deferred bookkeeping."""
        self.call(
            "POST", "/finish", json={"ok": ok, "reason": reason, "bookkeeping": self.bookkeeping()}
        )

    def log(self, message: str) -> None:
        """Write to the server job log (this process's stdout)."""
        log.info("%s", message)


def _setup_logging(config_file: Path) -> None:
    """Log to stdout (the job's server log) in the default format; follow `job log-config`."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMATS[DEFAULT_MODE]))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if TRACE else DEFAULT_LEVEL)
    for noisy in ("httpx", "httpcore"):  # a line per request (or per socket read) is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    watcher = LogConfigWatcher(config_file, target="server")
    watcher.check()
    watcher.start()


def main() -> int:
    """Run the job named in the environment; the exit code tells the launcher how it went."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # A job process outliving a killed server would retry its calls for minutes; the next
    # server settles or resumes the job itself.
    parent = os.environ.get("COHORT_PARENT_PID")
    die_with_parent(signal.SIGTERM, int(parent) if parent else None)
    job_id = os.environ["COHORT_JOB_ID"]
    kit = load_kit(Path(os.environ["COHORT_KIT_DIR"]))
    artifacts = FileArtifactStore(Path(os.environ["COHORT_ARTIFACTS"]))
    _setup_logging(artifacts.path(f"jobs/{job_id}/log_config.json"))
    job_root = artifacts.path(f"jobs/{job_id}/job")
    meta = JobMeta.model_validate_json((job_root / "meta.json").read_text())
    app = meta.server_app() or ""
    server_cfg = ServerAppConfig.model_validate(
        json.loads((job_root / app / SERVER_CONFIG).read_text())
    )
    with kit_client(kit, timeout=60.0, base_url=os.environ.get("COHORT_SERVER_URL")) as http:
        ctx = HttpWorkflowContext(job_id, http, artifacts, meta)
        try:
            ctx.call("POST", "/running", params={"resume": ctx.resuming})
        except CohortError as exc:
            if exc.code == ErrorCode.JOB_NOT_RUNNING:
                return 0  # aborted before it started: nothing to do
            raise
        ctx.log(f"job {job_id}: workflow {server_cfg.workflow} on sites {', '.join(ctx.sites)}")
        if ctx.resuming:
            ctx.log(f"job {job_id}: resumed after a server restart")
        try:
            workflow = WORKFLOWS[server_cfg.workflow](**server_cfg.args)
            workflow.run(ctx)
        except WorkflowFailed as exc:
            ctx.log(f"job failed: {exc}")
            ctx.finish(False, str(exc))
            return 0
        except Exception as exc:
            tail = "".join(traceback.format_exc().splitlines(keepends=True)[-20:])
            ctx.log(tail)
            reason = f"workflow error: {type(exc).__name__}: {exc}"
            ctx.finish(False, reason)
            return 1
        ctx.finish(True, "finished")
        ctx.log("job finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
