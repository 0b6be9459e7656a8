"""The client API a training script imports: ``import cohort.client as flare``.

A script loops ``while flare.is_running(): model = flare.receive(); ...; flare.send(result)``.
``is_running`` blocks until the server has the next task or says the job is over, so the loop
ends by itself when the job finishes, is aborted, or fails elsewhere.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from cohort.client.model import FLModel, ParamsType
from cohort.client.transport import ClientTransport, HttpTransport, ReceivedTask
from cohort.errors import CohortError, Conflict, ErrorCode, InvalidRequest
from cohort.wire.payload import PayloadHeader

__all__ = [
    "get_job_id",
    "get_site_name",
    "init",
    "is_command",
    "is_evaluate",
    "is_predict",
    "is_running",
    "is_submit_model",
    "is_train",
    "log",
    "receive",
    "send",
    "shutdown",
    "system_info",
]

TRAIN = "train"
VALIDATE = "validate"
SUBMIT_MODEL = "submit_model"
PREDICT = "predict"
COMMAND = "command"


class _Client:
    """State of the client API within one script (one job on one site)."""

    def __init__(self, transport: ClientTransport, site: str, job_id: str) -> None:
        self.transport = transport
        self.site = site
        self.job_id = job_id
        self.current: ReceivedTask | None = None
        self.finished = False


_client: _Client | None = None
_lock = threading.Lock()
# The simulator runs each site's script in a thread of one process: bind_thread() gives such a
# thread its own client here. Elsewhere this stays empty and the module-level _client is used.
_thread = threading.local()


def init(
    *, transport: ClientTransport | None = None, site: str | None = None, job_id: str | None = None
) -> None:
    """Connect the script to its job. Called once; later calls do nothing.

    Without arguments the transport, site name and job id come from the environment the site
    agent (or the simulator) sets up.
    """
    global _client
    with _lock:
        if _current() is not None:
            return
        _client = _Client(
            transport or HttpTransport.from_env(),
            site or os.environ.get("COHORT_SITE_NAME", ""),
            job_id or os.environ.get("COHORT_JOB_ID", ""),
        )


def bind_thread(transport: ClientTransport, site: str, job_id: str) -> None:
    """Give the calling thread its own client, which :func:`init` then leaves as it is.

    Used by the simulator, whose site scripts are threads of one process; not public API.
    """
    _thread.client = _Client(transport, site, job_id)


def _current() -> _Client | None:
    client: _Client | None = getattr(_thread, "client", None)
    return client if client is not None else _client


def _get() -> _Client:
    client = _current()
    if client is None:
        init()
        client = _current()
    assert client is not None
    return client


def shutdown() -> None:
    """Close the connection; the next :func:`init` starts afresh (used by the simulator)."""
    global _client
    with _lock:
        local: _Client | None = getattr(_thread, "client", None)
        if local is not None:
            local.transport.close()
            _thread.client = None
            return
        if _client is not None:
            _client.transport.close()
        _client = None


def is_running() -> bool:
    """Return True while the job has work for this site; blocks until it knows."""
    client = _get()
    if client.current is None and not client.finished:
        client.current = client.transport.fetch_task()
        client.finished = client.current is None
    return client.current is not None


def receive() -> FLModel | None:
    """Return the model of the current task (fetching it if needed); None once the job is over."""
    if not is_running():
        return None
    task = _get().current
    assert task is not None
    return FLModel(
        params=task.params,
        params_type=ParamsType(task.header.params_type),
        metrics=dict(task.header.metrics),
        meta=dict(task.task.meta),
        current_round=task.task.current_round,
        total_rounds=task.task.total_rounds,
    )


def send(model: FLModel, clear_cache: bool = True) -> None:
    """Send the result of the current task.

    ``meta["num_samples"]`` weights this site's update in aggregation (1 when missing).
    """
    client = _get()
    task = client.current
    if task is None:
        raise Conflict(
            "send() called with no task to answer",
            code=ErrorCode.TASK_NOT_ACTIVE,
            hint="Call receive() first, and send() once per task.",
        )
    num_samples = model.meta.get("num_samples", 1)
    if not isinstance(num_samples, int) or num_samples < 0:
        raise InvalidRequest(f"meta['num_samples'] must be a non-negative int, not {num_samples!r}")
    try:
        metrics = {k: float(v) for k, v in model.metrics.items()}
        header = PayloadHeader(
            kind="update",
            params_type=model.params_type.value,
            current_round=task.task.current_round,
            total_rounds=task.task.total_rounds,
            num_samples=num_samples,
            metrics=metrics,
            meta={k: v for k, v in model.meta.items() if k != "num_samples"},
        )
        header.model_dump_json()  # refuse unserialisable meta here, with the hint below
    except (TypeError, ValueError, PydanticSerializationError) as exc:
        # A NaN loss or a numpy scalar in meta is the script's mistake: say which, with a
        # code, rather than surfacing a pydantic traceback from deep inside send().
        raise InvalidRequest(
            f"the model's metrics or meta cannot be sent: {_first_line(exc)}",
            hint="metrics must be finite numbers; meta values must be JSON types "
            "(use float(x) / x.tolist() for numpy values).",
        ) from exc
    try:
        client.transport.send_params(task.task, model.params, header)
    except CohortError as exc:
        if exc.code == ErrorCode.TASK_NOT_ACTIVE:
            # The server no longer wants this task (timed out, round closed, superseded):
            # drop it, so a script that catches this gets the current task next.
            client.current = None
        raise
    if clear_cache:
        client.current = None


def _first_line(exc: Exception) -> str:
    """The part of a validation error a user needs (pydantic's own text runs to many lines)."""
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]) for e in exc.errors())
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def log(key: str, value: float, step: int | None = None) -> None:
    """Record a metric for the job's tracking (shown with the job's metrics)."""
    _get().transport.log_metrics(
        [{"key": key, "value": float(value), "step": step, "time": time.time()}]
    )


def _task_name() -> str | None:
    client = _get()
    return client.current.task.name if client.current is not None else None


def is_train() -> bool:
    """True when the current task asks for training."""
    return _task_name() == TRAIN


def is_evaluate() -> bool:
    """True when the current task asks only for an evaluation of the received model."""
    return _task_name() == VALIDATE


def is_submit_model() -> bool:
    """True when the server asks this site for its initial model."""
    return _task_name() == SUBMIT_MODEL


def is_predict() -> bool:
    """True when the server asks for predictions of the received model (metrics only)."""
    return _task_name() == PREDICT


def is_command() -> bool:
    """True when the server sends a custom command: ``meta["command"]`` names it and
    ``meta["parameters"]`` holds its parameters; answer with metrics."""
    return _task_name() == COMMAND


def get_site_name() -> str:
    """Name of the site this script runs on."""
    return _get().site


def get_job_id() -> str:
    """Id of the job this script belongs to."""
    return _get().job_id


def system_info() -> dict[str, Any]:
    """Site name and job id, as a dict (for logging)."""
    client = _get()
    return {"site_name": client.site, "job_id": client.job_id}
