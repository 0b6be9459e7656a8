"""The client API a training script uses, against an in-memory transport (no server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import cohort.client as flare
from cohort.client.transport import ClientTransport, ReceivedTask
from cohort.errors import CohortError, ErrorCode
from cohort.schemas.fleet import TaskHeader
from cohort.wire import PayloadHeader, decode_payload


class FakeTransport(ClientTransport):
    """Hands out queued tasks, then None (the job is over); records what the script sends."""

    def __init__(self, tasks: list[ReceivedTask] | None = None) -> None:
        self.tasks = list(tasks or [])
        self.fetches = 0
        self.sent: list[tuple[TaskHeader, bytes]] = []
        self.metrics: list[dict[str, Any]] = []
        self.closed = False

    def fetch_task(self) -> ReceivedTask | None:
        self.fetches += 1
        return self.tasks.pop(0) if self.tasks else None

    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        self.sent.append((task, payload))

    def log_metrics(self, records: list[dict[str, Any]]) -> None:
        self.metrics.extend(records)

    def close(self) -> None:
        self.closed = True


def make_task(
    name: str,
    round: int = 1,
    params: dict[str, np.ndarray] | None = None,
    *,
    metrics: dict[str, float] | None = None,
    meta: dict[str, Any] | None = None,
    params_type: str = "FULL",
) -> ReceivedTask:
    header = TaskHeader(
        task_id=f"{name}-{round}",
        job_id="job-1",
        site="site-1",
        name=name,
        current_round=round,
        total_rounds=3,
        meta=meta or {},
    )
    payload = PayloadHeader.model_validate(
        {
            "kind": "task",
            "params_type": params_type,
            "current_round": round,
            "total_rounds": 3,
            "metrics": metrics or {},
        }
    )
    return ReceivedTask(header, params if params is not None else {}, payload)


@pytest.fixture(autouse=True)
def _reset_client() -> Iterator[None]:
    flare.shutdown()
    yield
    flare.shutdown()


def start(*tasks: ReceivedTask) -> FakeTransport:
    transport = FakeTransport(list(tasks))
    flare.init(transport=transport, site="site-1", job_id="job-1")
    return transport


def decoded(transport: FakeTransport, i: int) -> tuple[dict[str, np.ndarray], PayloadHeader]:
    return decode_payload(transport.sent[i][1])


def test_full_loop() -> None:
    w = {"w": np.arange(3, dtype=np.float32)}
    transport = start(
        make_task("submit_model", 0),
        make_task("train", 1, w, meta={"lr": 0.1}),
        make_task("validate", 3, w),
    )
    seen = []
    while flare.is_running():
        model = flare.receive()
        assert model is not None
        kinds = (flare.is_train(), flare.is_evaluate(), flare.is_submit_model())
        seen.append(kinds)
        if flare.is_submit_model():
            flare.send(flare.FLModel(params=w, meta={"num_samples": 10}))
        elif flare.is_evaluate():
            flare.send(flare.FLModel(metrics={"accuracy": 0.9}))
        else:
            flare.log("train_loss", 0.5, step=model.current_round)
            new = {"w": model.params["w"] + 1}
            flare.send(
                flare.FLModel(params=new, metrics={"accuracy": 0.8}, meta={"num_samples": 7})
            )

    assert seen == [(False, False, True), (True, False, False), (False, True, False)]
    assert flare.receive() is None
    assert not flare.is_running()
    assert [task.name for task, _ in transport.sent] == ["submit_model", "train", "validate"]

    params, header = decoded(transport, 0)
    np.testing.assert_array_equal(params["w"], w["w"])
    assert header.kind == "update"
    assert header.num_samples == 10
    assert header.current_round == 0

    params, header = decoded(transport, 1)
    np.testing.assert_array_equal(params["w"], w["w"] + 1)
    assert header.num_samples == 7
    assert header.metrics == {"accuracy": 0.8}
    assert header.current_round == 1
    assert header.total_rounds == 3
    assert "num_samples" not in header.meta

    params, header = decoded(transport, 2)
    assert params == {}
    assert header.metrics == {"accuracy": 0.9}
    assert header.num_samples == 1  # no num_samples: weight 1

    assert len(transport.metrics) == 1
    record = transport.metrics[0]
    assert record["key"] == "train_loss"
    assert record["value"] == 0.5
    assert record["step"] == 1
    assert isinstance(record["time"], float)


def test_receive_builds_the_flmodel() -> None:
    w = {"w": np.ones(2, dtype=np.float32)}
    start(make_task("train", 2, w, metrics={"loss": 0.3}, meta={"lr": 0.01}, params_type="DIFF"))
    model = flare.receive()
    assert model is not None
    assert model.params is not None
    np.testing.assert_array_equal(model.params["w"], w["w"])
    assert model.current_round == 2
    assert model.total_rounds == 3
    assert model.metrics == {"loss": 0.3}
    assert model.meta == {"lr": 0.01}
    assert model.params_type is flare.ParamsType.DIFF


def test_is_running_fetches_once_per_task() -> None:
    transport = start(make_task("train"))
    assert flare.is_running()
    assert flare.is_running()
    flare.receive()
    assert transport.fetches == 1
    flare.send(flare.FLModel(params={}))
    assert not flare.is_running()
    assert not flare.is_running()
    assert transport.fetches == 2  # the job is over: no more fetching


def test_no_task_means_no_kind() -> None:
    start()
    assert not flare.is_running()
    assert not (flare.is_train() or flare.is_evaluate() or flare.is_submit_model())


def test_send_without_a_task() -> None:
    start()
    with pytest.raises(CohortError) as info:
        flare.send(flare.FLModel())
    assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert info.value.hint


def test_send_twice_for_one_task() -> None:
    transport = start(make_task("train"), make_task("train", 2))
    flare.receive()
    flare.send(flare.FLModel(params={}))
    with pytest.raises(CohortError) as info:
        flare.send(flare.FLModel(params={}))
    assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert len(transport.sent) == 1


def test_send_keeping_the_task() -> None:
    transport = start(make_task("train"))
    flare.receive()
    flare.send(flare.FLModel(params={}), clear_cache=False)
    assert flare.is_train()
    flare.send(flare.FLModel(params={}))
    assert len(transport.sent) == 2
    assert not flare.is_running()


@pytest.mark.parametrize("bad", [-1, 1.5, "10", None, [3]])
def test_num_samples_must_be_a_non_negative_int(bad: object) -> None:
    transport = start(make_task("train"))
    flare.receive()
    with pytest.raises(CohortError) as info:
        flare.send(flare.FLModel(params={}, meta={"num_samples": bad}))
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert transport.sent == []
    assert flare.is_train()  # the task is still there to answer properly


def test_zero_samples_is_allowed() -> None:
    transport = start(make_task("train"))
    flare.receive()
    flare.send(flare.FLModel(params={}, meta={"num_samples": 0}))
    assert decoded(transport, 0)[1].num_samples == 0


def test_metrics_are_sent_as_floats() -> None:
    transport = start(make_task("validate"))
    flare.receive()
    flare.send(flare.FLModel(metrics={"correct": 42, "acc": np.float32(0.5)}))
    metrics = decoded(transport, 0)[1].metrics
    assert metrics == {"correct": 42.0, "acc": 0.5}
    assert all(type(v) is float for v in metrics.values())


def test_params_type_travels() -> None:
    transport = start(make_task("train"))
    flare.receive()
    flare.send(flare.FLModel(params={"w": np.zeros(1)}, params_type=flare.ParamsType.DIFF))
    assert decoded(transport, 0)[1].params_type == "DIFF"


def test_identity() -> None:
    start()
    assert flare.get_site_name() == "site-1"
    assert flare.get_job_id() == "job-1"
    assert flare.system_info() == {"site_name": "site-1", "job_id": "job-1"}


def test_identity_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_SITE_NAME", "site-9")
    monkeypatch.setenv("COHORT_JOB_ID", "job-9")
    flare.init(transport=FakeTransport())
    assert flare.get_site_name() == "site-9"
    assert flare.get_job_id() == "job-9"


def test_second_init_is_a_no_op() -> None:
    first = start()
    flare.init(transport=FakeTransport([make_task("train")]), site="other", job_id="other")
    assert flare.get_site_name() == "site-1"
    assert not flare.is_running()
    assert first.fetches == 1


def test_shutdown_resets() -> None:
    first = start(make_task("train"))
    flare.receive()
    flare.shutdown()
    assert first.closed
    second = FakeTransport([make_task("validate")])
    flare.init(transport=second, site="site-2", job_id="job-2")
    assert flare.get_site_name() == "site-2"
    assert flare.is_evaluate() is False  # nothing fetched yet in the new session
    assert flare.is_running()
    assert flare.is_evaluate()
    assert first.fetches == 1


def test_shutdown_without_init_is_harmless() -> None:
    flare.shutdown()
    flare.shutdown()


def test_without_a_site_agent_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COHORT_JOB_ID", "COHORT_KIT_DIR", "COHORT_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(CohortError) as info:
        flare.init()
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert "COHORT_JOB_ID" in info.value.message
    assert "simulate" in info.value.hint or "submit" in info.value.hint


@pytest.mark.parametrize(
    ("metrics", "meta", "says"),
    [
        ({"loss": float("nan")}, {}, "not a finite number"),
        ({"loss": float("inf")}, {}, "not a finite number"),
        ({"loss": "low"}, {}, "could not convert"),
        ({}, {"net": object()}, "cannot be sent"),
    ],
)
def test_unsendable_metrics_or_meta_is_a_coded_error_and_the_task_stays(
    metrics: dict[str, Any], meta: dict[str, Any], says: str
) -> None:
    transport = start(make_task("train"))
    flare.receive()
    with pytest.raises(CohortError) as info:
        flare.send(flare.FLModel(params={}, metrics=metrics, meta=meta))
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert says in info.value.message and info.value.hint
    assert transport.sent == []
    flare.send(flare.FLModel(params={}, metrics={"loss": 0.5}))  # the task can still be answered
    assert len(transport.sent) == 1


class RefusingTransport(FakeTransport):
    """Refuses the result of the first task as stale, as a server does for a timed-out task."""

    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        if task.task_id == "train-1":
            raise CohortError("task train-1 is TIMEOUT", code=ErrorCode.TASK_NOT_ACTIVE)
        super().send_result(task, payload)


def test_a_refused_stale_result_drops_the_task_so_the_next_receive_gets_the_current_one() -> None:
    transport = RefusingTransport([make_task("train", 1), make_task("train", 2)])
    flare.init(transport=transport, site="site-1", job_id="job-1")
    assert flare.receive().current_round == 1  # type: ignore[union-attr]
    with pytest.raises(CohortError) as info:
        flare.send(flare.FLModel(params={}), clear_cache=False)
    assert info.value.code == ErrorCode.TASK_NOT_ACTIVE
    assert flare.receive().current_round == 2  # type: ignore[union-attr]
    flare.send(flare.FLModel(params={}))
    assert [t.task_id for t, _ in transport.sent] == ["train-2"]
