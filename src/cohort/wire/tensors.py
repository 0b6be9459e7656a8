"""Tensor encoding: a mapping of names to numpy arrays as safetensors bytes.

safetensors is a flat, length-prefixed format with a JSON header: decoding it never runs code,
unlike pickle. We still check the header ourselves first so that malformed input gets one clear
error code (PAYLOAD_INVALID) instead of whatever the parser raises.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load

from cohort.errors import ErrorCode, InvalidRequest

__all__ = [
    "MAX_HEADER_BYTES",
    "decode_tensors",
    "encode_tensors",
    "iter_file_tensors",
    "iter_tensor_bytes",
    "write_tensor_file",
]

#: Largest JSON header we accept; a real model's header is far smaller.
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPES = {
    "F16",
    "BF16",
    "F32",
    "F64",
    "I8",
    "I16",
    "I32",
    "I64",
    "U8",
    "U16",
    "U32",
    "U64",
    "BOOL",
}


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.PAYLOAD_INVALID)


#: numpy dtype -> safetensors dtype name, for what encode_tensors writes.
_ST_DTYPES: dict[np.dtype[Any], str] = {
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint8): "U8",
    np.dtype(np.uint16): "U16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint64): "U64",
    np.dtype(np.bool_): "BOOL",
}
_NP_DTYPES = {name: dtype for dtype, name in _ST_DTYPES.items()}
#: Largest piece of a tensor copied at once while encoding: bounds the encoder's own memory.
_PIECE = 16 * 1024 * 1024


def _prepare(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"tensor name {name!r} must be a non-empty string")
        arr = _to_numpy(value)
        if arr.dtype == object:
            raise InvalidRequest(f"tensor {name!r} has dtype object, which cannot be sent")
        little = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if little not in _ST_DTYPES:
            raise InvalidRequest(f"tensor {name!r} has dtype {arr.dtype}, which cannot be sent")
        # ascontiguousarray turns a 0-d array into shape (1,): keep the shape as it was.
        arrays[name] = np.ascontiguousarray(arr, dtype=little).reshape(arr.shape)
    return arrays


def iter_tensor_bytes(
    params: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> tuple[int, Iterator[bytes]]:
    """Encode ``params`` as safetensors, lazily: ``(total size, pieces of the encoding)``.

    The pieces are copies of at most 16 MiB of one tensor, so writing a model to a file or a
    socket never holds a second whole copy of it (what ``safetensors.numpy.save`` does).
    """
    arrays = _prepare(params)
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, arr in arrays.items():
        header[name] = {
            "dtype": _ST_DTYPES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data on 8 bytes
    prefix = struct.pack("<Q", len(raw)) + raw

    def pieces() -> Iterator[bytes]:
        yield prefix
        for arr in arrays.values():
            flat = arr.reshape(-1).view(np.uint8)
            for start in range(0, flat.size, _PIECE):
                yield flat[start : start + _PIECE].tobytes()

    return len(prefix) + offset, pieces()


def encode_tensors(params: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """Encode ``params`` (name -> array-like) with string ``metadata`` as safetensors bytes."""
    _, pieces = iter_tensor_bytes(params, metadata)
    return b"".join(pieces)


def write_tensor_file(
    path: Path, params: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> int:
    """Write ``params`` as a safetensors file piece by piece; return its size."""
    size, pieces = iter_tensor_bytes(params, metadata)
    with path.open("wb") as fh:
        for piece in pieces:
            fh.write(piece)
    return size


def _to_numpy(value: Any) -> np.ndarray:
    # PyTorch tensors are accepted without importing torch: they expose .detach().cpu().numpy().
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def check_header(data: bytes | memoryview, total_size: int) -> dict[str, Any]:
    """Parse and check a safetensors header from the first bytes of a payload.

    ``data`` must hold at least the 8-byte length prefix and the header; ``total_size`` is the
    payload's full length. Returns the parsed header. Raises PAYLOAD_INVALID on any defect.
    """
    if total_size < 8 or len(data) < 8:
        raise _invalid("payload is shorter than the 8-byte safetensors header length")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n == 0 or n > MAX_HEADER_BYTES or 8 + n > total_size:
        raise _invalid(f"payload header length {n} is out of range for {total_size} bytes")
    if len(data) < 8 + n:
        raise _invalid("payload header is truncated")
    try:
        header = json.loads(bytes(data[8 : 8 + n]))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _invalid(f"payload header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise _invalid("payload header is not a JSON object")
    body = total_size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in info.items()
            ):
                raise _invalid("payload metadata must map strings to strings")
            continue
        _check_entry(name, info, body)
    return header


def _check_entry(name: str, info: Any, body: int) -> None:
    if not isinstance(info, dict) or info.get("dtype") not in _DTYPES:
        raise _invalid(f"tensor {name!r} has no valid dtype")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _invalid(f"tensor {name!r} has an invalid shape")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= body
    ):
        raise _invalid(f"tensor {name!r} has data offsets outside the payload")


def decode_tensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Decode safetensors bytes into ``(arrays, metadata)``; PAYLOAD_INVALID when malformed."""
    header = check_header(data, len(data))
    try:
        arrays: dict[str, np.ndarray] = st_load(data)
    except (SafetensorError, ValueError, TypeError) as exc:
        raise _invalid(f"payload is not valid safetensors: {exc}") from exc
    metadata = header.get("__metadata__") or {}
    return arrays, dict(metadata)


def read_file_header(path: Path) -> dict[str, Any]:
    """Check and return the header of a safetensors file without reading its tensors."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise _invalid(f"{path.name} is shorter than a safetensors header")
        (n,) = struct.unpack("<Q", prefix)
        if n > MAX_HEADER_BYTES:
            raise _invalid(f"{path.name} header length {n} is over the limit")
        return check_header(prefix + fh.read(n), size)


def iter_file_tensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` from a safetensors file one tensor at a time.

    Only one tensor is in memory at once, which keeps aggregation O(model) however many
    updates it folds in. Each tensor is read straight into a new array (``readinto``): no
    memory map of the file, whose touched pages would count against the process too.
    """
    header = read_file_header(path)
    with path.open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = _NP_DTYPES.get(info["dtype"])
            if dtype is None:
                raise _invalid(f"tensor {name!r} has dtype {info['dtype']}, unsupported here")
            start, end = info["data_offsets"]
            arr = np.empty(info["shape"], dtype=dtype)
            if arr.nbytes != end - start:
                raise _invalid(f"tensor {name!r}: {end - start} bytes for shape {info['shape']}")
            fh.seek(base + start)
            view = arr.reshape(-1).view(np.uint8).data
            got = 0
            while got < arr.nbytes:
                read = fh.readinto(view[got:])
                if not read:
                    raise _invalid(f"{path.name} ends inside tensor {name!r}")
                got += read
            yield name, arr
