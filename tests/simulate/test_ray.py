"""The Ray back end on a local Ray (2 CPUs, a small object store, no dashboard): the same global
models as the threads back end, only wire data crossing to and from its actors, failures and
refusals. Skipped without the ``ray`` extra."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from cohort.cli.simulate import simulate as simulate_command
from cohort.errors import ErrorCode, InvalidRequest
from cohort.simulate import raybackend, simulate
from cohort.simulate.raywire import check_wire
from cohort.states import JobStatus
from cohort.wire.payload import decode_payload
from tests.integration.federation import make_job
from tests.simulate.conftest import HELLO, hello_copy
from tests.simulate.test_scale import BIG_MODEL_SCRIPT

ray = pytest.importorskip("ray")

# Ray's workers are processes of their own: keep the tests that use them on one xdist worker.
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray for the module: the back end uses it and leaves it running."""
    ray.init(
        num_cpus=2,
        object_store_memory=80 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _shas(result: Any) -> list[str]:
    return [r["model_sha256"] for r in result.rounds]


def test_ray_gives_the_threads_back_end_global_models(tmp_path: Path, local_ray: Any) -> None:
    job = hello_copy(tmp_path, num_rounds=3)
    threads = simulate(job, 4, threads=2, workspace=tmp_path / "t", progress=False)
    on_ray = simulate(job, 4, threads=2, backend="ray", workspace=tmp_path / "r", progress=False)
    assert on_ray.status == JobStatus.FINISHED_OK, on_ray.reason
    assert on_ray.backend == "ray" and on_ray.threads == 2
    assert [r["num_updates"] for r in on_ray.rounds] == [0, 4, 4, 4]
    assert _shas(on_ray) == _shas(threads)  # the same bits, round by round
    assert on_ray.final_metrics == threads.final_metrics
    log = (on_ray.result_dir / "workspace" / "site-3" / "log.txt").read_text()
    assert "final model test accuracy" in log
    assert local_ray.is_initialized()  # the caller's Ray is left running


def _msgpack_only(value: Any) -> bool:
    """True when Ray serialises ``value`` without pickling any part of it."""
    from ray._private import ray_constants

    context = ray._private.worker.global_worker.get_serialization_context()
    serialized = context.serialize(value)
    return getattr(serialized, "metadata", b"") != ray_constants.OBJECT_METADATA_TYPE_PYTHON


def test_only_wire_data_crosses_to_and_from_the_actors(
    tmp_path: Path, local_ray: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, Any]] = []

    def recording_check(value: Any, where: str = "value") -> None:
        seen.append((where, value))
        check_wire(value, where)

    monkeypatch.setattr(raybackend, "check_wire", recording_check)
    job = hello_copy(tmp_path, num_rounds=1)
    result = simulate(job, 2, threads=2, backend="ray", workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason

    kinds = {(where, v["type"]) for where, v in seen if where == "message"}
    assert {("message", k) for k in ("task", "ack", "stop")} <= kinds
    replies = [item for where, batch in seen if where == "reply" for item in batch]
    assert {header["type"] for header, _ in replies} >= {"result", "exit", "done"}
    payloads = [payload for header, payload in replies if header["type"] == "result"]
    # The initial model, then per site its round-1 update and its final validation:
    # safetensors bytes, as a site uploads them.
    assert len(payloads) == 1 + 2 + 2
    assert all(decode_payload(p)[1].kind == "update" for p in payloads)
    assert sum(1 for where, _ in seen if where == "config") == 2  # one per actor
    # Independently of our own check: Ray itself pickles none of these values.
    for where, value in seen:
        assert _msgpack_only(value), (where, value)
    for _, payload in replies:
        assert _msgpack_only(payload)


class _Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),  # a tuple: msgpack's strict types leave it to pickle
        {"x": np.float64(0.5)},  # a float subclass
        {"x": np.zeros(2)},
        {"colour": _Colour.RED},  # a str subclass
        {1: "int key"},
        [object()],
        {"nested": [{"ok": 1}, {"bad": {1, 2}}]},
    ],
)
def test_non_wire_values_are_refused(value: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_wire(value, "message")
    assert info.value.code == ErrorCode.PAYLOAD_INVALID
    assert "message" in info.value.message


def test_wire_values_pass() -> None:
    check_wire({"a": [1, 2.5, "s", b"\x00bytes", None, True, {"b": []}]})


class _FakeHandle:
    """Stands in for a Ray actor handle: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.post = self

    def remote(self, message: Any) -> None:
        self.sent.append(message)


def test_the_back_end_refuses_a_non_wire_message_before_calling_ray() -> None:
    backend = raybackend.RayBackend.__new__(raybackend.RayBackend)
    handle = _FakeHandle()
    host = raybackend._Host(handle, ["site-1"])
    with pytest.raises(InvalidRequest):
        backend.post(host, {"type": "ack", "site": "site-1", "error": ("a", "tuple")})
    assert handle.sent == []
    backend.post(host, {"type": "stop"})
    assert handle.sent == [{"type": "stop"}]


CRASH_SCRIPT = """
import cohort.client as flare

flare.init()
if flare.get_site_name() == "site-2":
    raise RuntimeError("site-2 broke on purpose")
while flare.is_running():
    model = flare.receive()
    flare.send(flare.FLModel(params=model.params, meta={"num_samples": 1}))
"""


def test_a_site_failing_on_ray_fails_the_job_with_its_error(tmp_path: Path, local_ray: Any) -> None:
    job = make_job(tmp_path / "crash", CRASH_SCRIPT, num_rounds=1, min_clients=2)
    result = simulate(job, 2, backend="ray", workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_EXCEPTION
    errors = {e["site"]: e for e in result.site_errors}
    assert "site-2 broke on purpose" in errors["site-2"]["traceback_tail"]


def test_more_actors_than_ray_cpus_is_refused(tmp_path: Path, local_ray: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        simulate(HELLO, 3, threads=3, backend="ray", workspace=tmp_path / "ws", progress=False)
    assert info.value.code == ErrorCode.INVALID_ARGS and "2" in info.value.message


def test_cli_backend_ray(tmp_path: Path, local_ray: Any) -> None:
    job = hello_copy(tmp_path, num_rounds=1)
    args = ["-j", str(job), "-n", "2", "--backend", "ray", "-w", str(tmp_path / "ws")]
    run = CliRunner().invoke(simulate_command, [*args, "--format", "json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)["data"]
    assert data["backend"] == "ray" and data["status"] == "FINISHED_OK"
    assert data["peak_rss_mb"] > 0


def test_actor_memory_follows_working_sites_not_all_sites(
    tmp_path: Path, local_ray: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two actors host 80, then 240 sites of a 1 MiB model (each actor 120 sites more). Were a
    # model (a queued task's or a result) kept per waiting site, the actors' peaks would grow
    # by 240 MiB or more. Measured: about 65 MB together (each site thread's own state; the
    # shared-memory object store is touched fully by either run).
    actor_peaks: list[float] = []
    join = raybackend.RayBackend.join

    def recording_join(self: raybackend.RayBackend, timeout: float) -> list[str]:
        stuck = join(self, timeout)
        actor_peaks.append(self.workers_peak_rss_mb)
        return stuck

    monkeypatch.setattr(raybackend.RayBackend, "join", recording_join)
    for n_sites in (80, 240):
        job = make_job(tmp_path / f"big{n_sites}", BIG_MODEL_SCRIPT, num_rounds=1)
        result = simulate(
            job, n_sites, threads=2, backend="ray", workspace=tmp_path / "ws", progress=False
        )
        assert result.status == JobStatus.FINISHED_OK, result.reason
        assert [r["num_updates"] for r in result.rounds] == [0, n_sites]
        assert result.final_metrics["mean"] == 1.0
    print(actor_peaks)  # shown with -s: both actors' peaks together, MiB
    assert len(actor_peaks) == 2 and min(actor_peaks) > 0
    assert actor_peaks[1] - actor_peaks[0] < 120, actor_peaks
