"""The tiled mean over stored update files (FedAvg's aggregation) against the running fold:
the same bits, a fixed order, refusals with the usual codes, nothing half-written."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import httpx
import numpy as np
import pytest

from cohort.aggregators import TiledMean, WeightedMean
from cohort.aggregators import tiled as tiled_module
from cohort.errors import CohortError, ErrorCode
from cohort.schemas.job import JobMeta
from cohort.server.job_process import HttpWorkflowContext
from cohort.simulate.board import Board
from cohort.simulate.context import SimWorkflowContext
from cohort.store import FileArtifactStore
from cohort.wire.payload import PayloadHeader, read_payload_file, write_payload_file
from cohort.wire.tensors import encode_tensors, iter_file_tensors

TILE = tiled_module._TILE
SHAPES = [(), (0,), (7,), (TILE,), (3, TILE + 1), (2 * TILE + 5,), (4, 0, 3)]


def _write(path: Path, params: dict[str, np.ndarray]) -> Path:
    write_payload_file(path, params, PayloadHeader(kind="update", num_samples=1))
    return path


def _running(updates: list[dict[str, np.ndarray]], weights: list[float]) -> dict[str, np.ndarray]:
    agg = WeightedMean()
    for update, weight in zip(updates, weights, strict=True):
        agg.add(iter(sorted(update.items())), weight)
    return agg.result()


def _tiled(paths: list[Path], weights: list[float], keys: list[str] | None = None) -> TiledMean:
    agg = TiledMean()
    for i, (path, weight) in enumerate(zip(paths, weights, strict=True)):
        agg.add_file(path, weight, key=keys[i] if keys else f"site-{i:03d}")
    return agg


def _streamed(agg: TiledMean, path: Path) -> dict[str, np.ndarray]:
    write_payload_file(path, agg, PayloadHeader(kind="model"))
    return dict(iter_file_tensors(path))


def _assert_same_bits(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == sorted(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        assert got[name].tobytes() == array.tobytes(), name


def _updates(
    seed: int, n: int, dtype: type[np.generic], shapes: list[tuple[int, ...]]
) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        update = {}
        for i, shape in enumerate(shapes):
            values = rng.standard_normal(shape) * 100
            update[f"t{i}"] = values.astype(dtype)
        out.append(update)
    return out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8])
def test_same_bits_as_the_running_fold(tmp_path: Path, dtype: type[np.generic]) -> None:
    updates = _updates(1, 5, dtype, SHAPES)
    weights = [0.37, 11.0, 1e-3, 0.0, 250.0]
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    want = _running(updates, weights)
    agg = _tiled(paths, weights)
    _assert_same_bits(agg.result(), want)
    _assert_same_bits(_streamed(agg, tmp_path / "mean"), want)  # the file, read back
    assert (agg.count, agg.total_weight) == (5, sum(weights))


def test_mixed_dtypes_and_negative_zeros_match_the_running_fold(tmp_path: Path) -> None:
    # -0.0 * w and 0 * -x are -0.0: the sum starts from +0.0 in both folds, so a tensor of
    # such products comes out +0.0, not -0.0.
    first = {"h": np.full(5, -0.0, dtype=np.float16), "d": np.arange(-3.0, 2.0), "b": np.ones(3)}
    second = {"h": np.full(5, -0.0, dtype=np.float32), "d": -np.arange(5.0), "b": np.zeros(3)}
    second["b"] = second["b"].astype(np.bool_)
    updates, weights = [first, second], [2.0, 0.0]
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    want = _running(updates, weights)
    got = _tiled(paths, weights).result()
    _assert_same_bits(got, want)
    assert got["h"].dtype == np.float16 and not np.signbit(got["h"]).any()


def test_reads_files_written_by_safetensors_itself(tmp_path: Path) -> None:
    updates = _updates(2, 3, np.float32, [(33,), (5, 4)])
    paths = []
    for i, update in enumerate(updates):
        path = tmp_path / f"u{i}"
        path.write_bytes(encode_tensors(update))
        paths.append(path)
    _assert_same_bits(_tiled(paths, [1.0, 2.0, 3.0]).result(), _running(updates, [1.0, 2.0, 3.0]))


def test_fold_order_is_the_keys_not_the_order_files_are_added(tmp_path: Path) -> None:
    # Float sums depend on their order; the keys (site names) fix it, so a round's mean does
    # not depend on which site answered first.
    rng = np.random.default_rng(3)
    updates = [
        {"w": (rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 8, 1000))} for _ in range(6)
    ]
    weights = [float(w) for w in rng.integers(1, 1000, 6)]
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    keys = [f"site-{i}" for i in range(6)]
    in_order = _tiled(paths, weights, keys).result()
    _assert_same_bits(in_order, _running(updates, weights))
    for perm in ([5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3]):
        shuffled = _tiled(
            [paths[i] for i in perm], [weights[i] for i in perm], [keys[i] for i in perm]
        )
        _assert_same_bits(shuffled.result(), in_order)
    reversed_fold = _running(updates[::-1], weights[::-1])["w"]
    assert reversed_fold.tobytes() != in_order["w"].tobytes()  # the order does matter


def test_more_updates_than_open_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiled_module, "_MAX_OPEN", 2)  # each read opens its file
    updates = _updates(4, 5, np.float32, [(TILE + 3,)])
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    weights = [1.0, 2.0, 3.0, 4.0, 5.0]
    _assert_same_bits(_tiled(paths, weights).result(), _running(updates, weights))


def _refused(tmp_path: Path, first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> str:
    agg = TiledMean()
    agg.add_file(_write(tmp_path / "a", first), 1.0)
    with pytest.raises(CohortError) as info:
        agg.add_file(_write(tmp_path / "b", second), 1.0)
    assert agg.count == 1  # the refused update is not kept
    return info.value.code


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"w": np.zeros((2, 3))}, {"w": np.zeros((3, 2))}),
        ({"w": np.zeros(3)}, {"w": np.zeros((3, 1))}),
        ({"w": np.zeros(2)}, {"w": np.zeros(2), "b": np.zeros(1)}),
        ({"w": np.zeros(2), "b": np.zeros(1)}, {"w": np.zeros(2)}),
        ({"w": np.zeros(2)}, {"weight": np.zeros(2)}),
    ],
    ids=["shape", "rank", "extra", "missing", "renamed"],
)
def test_mismatched_updates_are_refused(
    tmp_path: Path, first: dict[str, np.ndarray], second: dict[str, np.ndarray]
) -> None:
    assert _refused(tmp_path, first, second) == ErrorCode.MODEL_VALIDATION_FAILED


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_invalid_weight_is_refused(tmp_path: Path, weight: float) -> None:
    with pytest.raises(CohortError) as info:
        TiledMean().add_file(_write(tmp_path / "u", {"w": np.ones(2)}), weight)
    assert info.value.code == ErrorCode.INVALID_REQUEST


def test_no_weight_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CohortError) as info:
        TiledMean().result()
    assert info.value.code == ErrorCode.INVALID_REQUEST
    agg = TiledMean()
    agg.add_file(_write(tmp_path / "u", {"w": np.ones(2)}), 0.0)
    with pytest.raises(CohortError) as info:
        list(agg.pieces())
    assert info.value.code == ErrorCode.INVALID_REQUEST


def _raw_file(path: Path, header: dict[str, object], body: bytes) -> Path:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


@pytest.mark.parametrize(
    "header",
    [
        {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},  # 2 floats for 3
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}},  # 4 for 2
        {"w": {"dtype": "F32", "shape": [9], "data_offsets": [0, 36]}},  # beyond the body
    ],
)
def test_inconsistent_layouts_are_refused(tmp_path: Path, header: dict[str, object]) -> None:
    path = _raw_file(tmp_path / "u", header, b"\0" * 16)
    with pytest.raises(CohortError) as info:
        TiledMean().add_file(path, 1.0)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID


def test_bf16_is_refused_clearly(tmp_path: Path) -> None:
    path = _raw_file(
        tmp_path / "u", {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4
    )
    with pytest.raises(CohortError) as info:
        TiledMean().add_file(path, 1.0)
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert "BF16" in info.value.message


def _cut_short(tmp_path: Path) -> TiledMean:
    """A mean whose second update file lost its end after it was checked."""
    updates = _updates(5, 2, np.float32, [(TILE * 2,), (10,)])
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    agg = _tiled(paths, [1.0, 1.0])
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) - 100])
    return agg


def test_a_file_cut_short_fails_the_fold(tmp_path: Path) -> None:
    agg = _cut_short(tmp_path)
    with pytest.raises(CohortError) as info:
        agg.result()
    assert info.value.code == ErrorCode.PAYLOAD_INVALID


class _Quiet:
    def progress(self, current_round: int, total_rounds: int, reason: str) -> None:
        pass

    def results(self, done: int, total: int) -> None:
        pass

    def round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        pass


def test_simulator_writes_nothing_when_the_fold_fails(tmp_path: Path) -> None:
    root = tmp_path / "sim"
    root.mkdir()
    ctx = SimWorkflowContext(Board("job", root), ["site-1"], 1, tmp_path, _Quiet())
    with pytest.raises(CohortError):
        ctx.save_global_model(1, _cut_short(tmp_path), 2, 2)
    assert not (root / "models").exists() or not any((root / "models").iterdir())
    assert ctx.rounds == {}


def test_simulator_writes_the_streamed_mean(tmp_path: Path) -> None:
    root = tmp_path / "sim"
    root.mkdir()
    ctx = SimWorkflowContext(Board("job", root), ["site-1"], 1, tmp_path, _Quiet())
    updates = _updates(6, 3, np.float32, [(TILE + 1,), (4, 4)])
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    key = ctx.save_global_model(1, _tiled(paths, [1.0, 5.0, 2.0]), 3, 8)
    _assert_same_bits(dict(iter_file_tensors(root / key)), _running(updates, [1.0, 5.0, 2.0]))
    assert read_payload_file(root / key).kind == "model"


def _server_context(tmp_path: Path, calls: list[str]) -> HttpWorkflowContext:
    """The job process's context over a transport that answers the API process's routes
    it calls here (the job's record, and recording a round)."""

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json={"sites": ["site-1"]})
        return httpx.Response(200, json={})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://server")
    meta = JobMeta(name="job", deploy_map={"app": ["@ALL"]})
    return HttpWorkflowContext("job", http, FileArtifactStore(tmp_path / "artifacts"), meta)


def test_job_process_writes_nothing_when_the_fold_fails(tmp_path: Path) -> None:
    calls: list[str] = []
    ctx = _server_context(tmp_path, calls)
    with pytest.raises(CohortError):
        ctx.save_global_model(1, _cut_short(tmp_path), 2, 2)
    models = tmp_path / "artifacts" / "jobs" / "job" / "models"
    assert not models.exists() or not any(models.iterdir())  # no model, no temporary file
    assert calls == ["GET /internal/v1/jobs/job"]  # and no round recorded


def test_job_process_writes_the_streamed_mean(tmp_path: Path) -> None:
    calls: list[str] = []
    ctx = _server_context(tmp_path, calls)
    updates = _updates(7, 2, np.float64, [(3, TILE), ()])
    paths = [_write(tmp_path / f"u{i}", u) for i, u in enumerate(updates)]
    key = ctx.save_global_model(1, _tiled(paths, [3.0, 4.0]), 2, 7)
    stored = dict(iter_file_tensors(ctx.artifact_path(key)))
    _assert_same_bits(stored, _running(updates, [3.0, 4.0]))
    assert calls[-1] == "POST /internal/v1/jobs/job/rounds"
