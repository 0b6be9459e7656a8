"""Wire encoding: safetensors round trips, the payload header, and refusal of bad input."""

from __future__ import annotations

import contextlib
import json
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort.errors import CohortError, ErrorCode
from cohort.schemas.fleet import TaskHeader
from cohort.wire import (
    PayloadHeader,
    decode_payload,
    decode_tensors,
    encode_payload,
    encode_tensors,
    iter_file_tensors,
    read_payload_file,
)
from cohort.wire.payload import HEADER_KEY, load_payload_file
from cohort.wire.tensors import FileTensors


def raw_payload(header: Any, body: bytes = b"", *, length: int | None = None) -> bytes:
    """Build safetensors bytes by hand: 8-byte little-endian length, JSON header, body."""
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(encoded) if length is None else length
    return struct.pack("<Q", n) + encoded + body


def assert_payload_invalid(data: bytes) -> CohortError:
    with pytest.raises(CohortError) as info:
        decode_tensors(data)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID
    return info.value


# ------------------------------------------------------------------------------- round trips

ARRAYS = {
    "f16": np.arange(6, dtype=np.float16).reshape(2, 3),
    "f32": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4),
    "f64": np.array([np.pi, -np.e, 1e300], dtype=np.float64),
    "i8": np.array([-128, 0, 127], dtype=np.int8),
    "i32": np.arange(-5, 5, dtype=np.int32),
    "i64": np.array([2**62, -(2**62)], dtype=np.int64),
    "u8": np.array([0, 255], dtype=np.uint8),
    "u64": np.array([2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "empty": np.zeros((0,), dtype=np.float32),
    "empty_2d": np.zeros((3, 0), dtype=np.int16),
    "scalar": np.array(3.5, dtype=np.float32),
    "scalar_int": np.array(7, dtype=np.int64),
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_round_trip_each_dtype_and_shape(name: str) -> None:
    array = ARRAYS[name]
    decoded, metadata = decode_tensors(encode_tensors({name: array}))
    assert list(decoded) == [name]
    assert decoded[name].dtype == array.dtype
    assert decoded[name].shape == array.shape
    np.testing.assert_array_equal(decoded[name], array)
    assert metadata == {}


def test_round_trip_many_tensors_with_metadata() -> None:
    decoded, metadata = decode_tensors(encode_tensors(ARRAYS, {"a": "1", "b": "two"}))
    assert set(decoded) == set(ARRAYS)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(decoded[name], array)
        assert decoded[name].dtype == array.dtype
    assert metadata == {"a": "1", "b": "two"}


def test_non_contiguous_and_list_inputs_are_encoded() -> None:
    transposed = np.arange(12, dtype=np.float32).reshape(3, 4).T
    decoded, _ = decode_tensors(encode_tensors({"t": transposed, "l": [1.0, 2.0]}))
    np.testing.assert_array_equal(decoded["t"], transposed)
    np.testing.assert_array_equal(decoded["l"], [1.0, 2.0])


def test_empty_mapping_round_trips() -> None:
    decoded, metadata = decode_tensors(encode_tensors({}, {"k": "v"}))
    assert decoded == {}
    assert metadata == {"k": "v"}


@pytest.mark.parametrize("params", [{"": np.zeros(1)}, {"o": np.array([object()])}])
def test_encode_refuses_bad_names_and_object_arrays(params: dict[str, Any]) -> None:
    with pytest.raises(CohortError) as info:
        encode_tensors(params)
    assert info.value.code == ErrorCode.INVALID_REQUEST


def test_payload_header_round_trip() -> None:
    task = TaskHeader(
        task_id="t1",
        job_id="j1",
        site="site-1",
        name="train",
        current_round=2,
        total_rounds=5,
        meta={"lr": 0.1},
    )
    header = PayloadHeader(
        kind="update",
        params_type="DIFF",
        current_round=2,
        total_rounds=5,
        num_samples=17,
        metrics={"accuracy": 0.9, "loss": 0.25},
        meta={"note": "x", "nested": {"a": [1, 2]}},
        task=task,
    )
    params = {"w": np.ones((2, 2), dtype=np.float32)}
    arrays, decoded = decode_payload(encode_payload(params, header))
    assert decoded == header
    np.testing.assert_array_equal(arrays["w"], params["w"])


def test_payload_header_is_in_safetensors_metadata() -> None:
    data = encode_payload({}, PayloadHeader(kind="model", current_round=0))
    _, metadata = decode_tensors(data)
    assert json.loads(metadata[HEADER_KEY])["kind"] == "model"


def test_payload_file_reading(tmp_path: Path) -> None:
    params = {"a": np.arange(5, dtype=np.float64), "b": np.eye(3, dtype=np.float32)}
    header = PayloadHeader(kind="model", current_round=3, total_rounds=4)
    path = tmp_path / "model.safetensors"
    path.write_bytes(encode_payload(params, header))

    assert read_payload_file(path) == header
    streamed = dict(iter_file_tensors(path))
    assert set(streamed) == set(params)
    for name, array in params.items():
        np.testing.assert_array_equal(streamed[name], array)
        assert streamed[name].dtype == array.dtype
    arrays, loaded_header = load_payload_file(path)
    assert loaded_header == header
    np.testing.assert_array_equal(arrays["b"], params["b"])


def test_iter_file_tensors_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(encode_tensors({f"t{i}": np.full(4, i, dtype=np.float32) for i in range(3)}))
    iterator = iter_file_tensors(path)
    _name, first = next(iterator)
    assert first.shape == (4,)
    assert len(list(iterator)) == 2


def test_file_tensors_are_private_writable_views(tmp_path: Path) -> None:
    # Read through a copy-on-write mapping: every dtype and shape as saved, writable, and a
    # write never reaches the file (an aggregator may scale an array in place).
    params = {
        "f16": np.arange(6, dtype=np.float16).reshape(2, 3),
        "i64": np.arange(-3, 3, dtype=np.int64),
        "u8": np.arange(7, dtype=np.uint8),
        "flag": np.array([True, False, True]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    path = tmp_path / "m.safetensors"
    data = encode_tensors(params)
    path.write_bytes(data)
    for name, array in iter_file_tensors(path):
        np.testing.assert_array_equal(array, params[name])
        assert (array.dtype, array.shape) == (params[name].dtype, params[name].shape)
        assert array.flags.writeable
        array[...] = 1
    assert path.read_bytes() == data
    assert dict(iter_file_tensors(path))["i64"].tolist() == [-3, -2, -1, 0, 1, 2]


@pytest.mark.parametrize("content", [b"", b"1234", b"\x10" + b"\x00" * 7 + b"{}"])
def test_iter_file_tensors_refuses_bad_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CohortError) as info:
        list(iter_file_tensors(path))
    assert info.value.code == ErrorCode.PAYLOAD_INVALID


# ------------------------------------------------------------------------------- refusals

VALID = encode_tensors({"w": np.arange(8, dtype=np.float32)}, {"k": "v"})


@pytest.mark.parametrize("cut", [0, 4, 7, 8, 20, len(VALID) - 1])
def test_truncated_bytes(cut: int) -> None:
    assert_payload_invalid(VALID[:cut])


def test_header_length_larger_than_payload() -> None:
    assert_payload_invalid(raw_payload({}, length=10_000))


def test_header_length_zero_and_huge() -> None:
    assert_payload_invalid(raw_payload(b"", length=0))
    assert_payload_invalid(struct.pack("<Q", 2**63) + b"{}")


@pytest.mark.parametrize("header", [b"not json", b"{'single': 1}", b"\xff\xfe\x00garbage"])
def test_header_not_json(header: bytes) -> None:
    assert_payload_invalid(raw_payload(header))


def test_deeply_nested_header_is_refused_not_crashed() -> None:
    assert_payload_invalid(raw_payload(b"[" * 100_000))


@pytest.mark.parametrize("header", [[], [1, 2], "text", 3, None])
def test_header_not_an_object(header: Any) -> None:
    assert_payload_invalid(raw_payload(header))


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]},
        {"dtype": "OBJECT", "shape": [1], "data_offsets": [0, 8]},
        {"dtype": None, "shape": [1], "data_offsets": [0, 4]},
        {"shape": [1], "data_offsets": [0, 4]},
        "F32",
    ],
)
def test_bad_dtype(entry: Any) -> None:
    assert_payload_invalid(raw_payload({"t": entry}, b"\x00" * 16))


@pytest.mark.parametrize("shape", [[-1], [1.5], ["2"], "2", None])
def test_bad_shape(shape: Any) -> None:
    entry = {"dtype": "F32", "shape": shape, "data_offsets": [0, 4]}
    assert_payload_invalid(raw_payload({"t": entry}, b"\x00" * 4))


@pytest.mark.parametrize("offsets", [[0, 8], [4, 2], [-4, 0], [0], [0, 1, 2], ["0", "4"], None])
def test_offsets_outside_the_body(offsets: Any) -> None:
    entry = {"dtype": "F32", "shape": [1], "data_offsets": offsets}
    assert_payload_invalid(raw_payload({"t": entry}, b"\x00" * 4))


def test_offsets_inconsistent_with_shape() -> None:
    entry = {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]}
    assert_payload_invalid(raw_payload({"t": entry}, b"\x00" * 4))


@pytest.mark.parametrize("metadata", [{"a": 1}, {"a": None}, {"a": ["x"]}, ["a"], "a"])
def test_metadata_not_str_to_str(metadata: Any) -> None:
    assert_payload_invalid(raw_payload({"__metadata__": metadata}))


def test_missing_cohort_header() -> None:
    data = encode_tensors({"w": np.zeros(2, dtype=np.float32)}, {"other": "x"})
    with pytest.raises(CohortError) as info:
        decode_payload(data)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID
    assert "no cohort header" in info.value.message


@pytest.mark.parametrize(
    "header",
    [
        '{"kind": "update", "current_round": -1}',
        '{"kind": "update", "num_samples": -3}',
        '{"kind": "update", "metrics": {"loss": NaN}}',
        '{"kind": "update", "metrics": {"loss": Infinity}}',
        '{"kind": "update", "metrics": {"loss": "low"}}',
        '{"kind": "gradient"}',
        '{"kind": "update", "params_type": "HALF"}',
        '{"kind": "update", "unexpected": 1}',
        '{"current_round": 1}',
        '{"kind": "task", "task": {"task_id": "t"}}',
        "not json",
        "[" * 100_000,
        "[]",
    ],
)
def test_invalid_header_fields(header: str) -> None:
    data = encode_tensors({"w": np.zeros(2, dtype=np.float32)}, {HEADER_KEY: header})
    with pytest.raises(CohortError) as info:
        decode_payload(data)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID


def test_invalid_header_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "u.safetensors"
    path.write_bytes(encode_tensors({}, {HEADER_KEY: '{"kind": "update", "current_round": -2}'}))
    with pytest.raises(CohortError) as info:
        read_payload_file(path)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID


# ------------------------------------------------------------------------------- no pickle

UNPICKLED: list[str] = []


def _record_unpickling(marker: str) -> str:
    UNPICKLED.append(marker)
    return marker


class _Booby:
    """Unpickling this calls _record_unpickling: proof that a loader ran pickle."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_record_unpickling, ("unpickled!",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_payload_is_refused_and_never_unpickled(
    protocol: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_: Any, **__: Any) -> Any:
        raise AssertionError("the wire code called pickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    UNPICKLED.clear()
    data = pickle.dumps({"w": np.zeros(3), "evil": _Booby()}, protocol=protocol)
    assert_payload_invalid(data)
    with pytest.raises(CohortError) as info:
        decode_payload(data)
    assert info.value.code == ErrorCode.PAYLOAD_INVALID
    assert UNPICKLED == []


def test_numpy_npy_payload_is_refused() -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([_Booby()], dtype=object), allow_pickle=True)
    UNPICKLED.clear()
    assert_payload_invalid(buffer.getvalue())
    assert UNPICKLED == []


# ------------------------------------------------------------------------------- fuzzing

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_cohort_errors(data: bytes) -> None:
    for decode in (decode_tensors, decode_payload):
        with contextlib.suppress(CohortError):
            decode(data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F16", "F32", "F64", "I64", "U8", "BOOL", "BF16", "X"]),
        "shape": st.lists(st.integers(-2, 2**40), max_size=3),
        "data_offsets": st.lists(st.integers(-2, 2**40), min_size=2, max_size=2),
    }
)


@_FUZZ
@given(
    st.dictionaries(st.text(max_size=6), _entries | _json_values, max_size=4),
    st.binary(max_size=64),
)
def test_structured_headers_only_raise_cohort_errors(header: dict[str, Any], body: bytes) -> None:
    """Plausible-looking headers reach deeper than random bytes: still only CohortError."""
    data = raw_payload(json.dumps(header).encode(), body)
    for decode in (decode_tensors, decode_payload):
        with contextlib.suppress(CohortError):
            decode(data)


@_FUZZ
@given(st.binary(min_size=1, max_size=64), st.integers(0, len(VALID) - 1))
def test_corrupted_valid_payloads_only_raise_cohort_errors(noise: bytes, at: int) -> None:
    data = bytearray(VALID)
    data[at : at + len(noise)] = noise
    with contextlib.suppress(CohortError):
        decode_payload(bytes(data))


def test_file_tensors_stream_writes_what_loading_the_file_writes(tmp_path: Path) -> None:
    # Round 0's global model is copied from the initial model piece by piece: the file must
    # be byte for byte the one encoding the loaded arrays gives.
    params = {
        "z": np.arange(3 * 2**20 + 7, dtype=np.float32),  # over one 4 MiB piece
        "a": np.array([-0.0, np.nan, 1.5], dtype=np.float64),
        "i": np.arange(-4, 4, dtype=np.int64).reshape(2, 4),
        "s": np.array(2.0, dtype=np.float16),
        "e": np.zeros((0, 3), dtype=np.uint8),
    }
    source = tmp_path / "initial.safetensors"
    source.write_bytes(encode_tensors(params))
    header = PayloadHeader(kind="model", current_round=0)
    loaded = encode_payload(dict(iter_file_tensors(source)), header)
    assert encode_payload(FileTensors(source), header) == loaded


def test_file_tensors_refuse_a_file_cut_short(tmp_path: Path) -> None:
    source = tmp_path / "initial.safetensors"
    source.write_bytes(encode_tensors({"w": np.ones(1000, dtype=np.float32)}))
    stream = FileTensors(source)
    source.write_bytes(source.read_bytes()[:-8])
    with pytest.raises(CohortError) as info:
        list(stream.pieces())
    assert info.value.code == ErrorCode.PAYLOAD_INVALID
