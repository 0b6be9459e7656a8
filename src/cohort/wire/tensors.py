"""Tensor encoding: a mapping of names to numpy arrays as safetensors bytes.

safetensors is a flat, length-prefixed format with a JSON header: decoding it never runs code,
unlike pickle. We still check the header ourselves first so that malformed input gets one clear
error code (PAYLOAD_INVALID) instead of whatever the parser raises.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load as st_load

from cohort.errors import ErrorCode, InvalidRequest

__all__ = [
    "MAX_HEADER_BYTES",
    "FileTensors",
    "TensorSpec",
    "TensorStream",
    "decode_tensors",
    "encode_tensors",
    "iter_file_tensors",
    "iter_tensor_bytes",
    "numpy_dtype",
    "read_exact",
    "read_file_layout",
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


#: numpy's spelling of each safetensors dtype (little-endian, as the format stores them);
#: BF16 has none, and is read through safetensors.
_NUMPY_DTYPES = {
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
    "I8": "i1",
    "I16": "<i2",
    "I32": "<i4",
    "I64": "<i8",
    "U8": "u1",
    "U16": "<u2",
    "U32": "<u4",
    "U64": "<u8",
    "BOOL": "?",
}


#: Bytes per element of each safetensors dtype (BF16 included).
_ITEMSIZE = {name: np.dtype(spelling).itemsize for name, spelling in _NUMPY_DTYPES.items()}
_ITEMSIZE["BF16"] = 2


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.PAYLOAD_INVALID)


def numpy_dtype(name: str) -> np.dtype[Any] | None:
    """numpy's dtype for a safetensors dtype name (None for BF16, which numpy lacks)."""
    spelling = _NUMPY_DTYPES.get(name)
    return None if spelling is None else np.dtype(spelling)


#: One tensor's place in a safetensors layout: name, dtype, shape.
TensorSpec = tuple[str, np.dtype[Any], tuple[int, ...]]


@runtime_checkable
class TensorStream(Protocol):
    """Tensors whose bytes are produced while they are written (a mean folded tile by tile),
    so that no whole tensor is ever in memory: their layout first, then their data."""

    def layout(self) -> list[TensorSpec]:
        """The tensors, in the order :meth:`pieces` produces them."""

    def pieces(self) -> Iterator[bytes]:
        """The tensors' little-endian bytes, back to back, exactly as :meth:`layout` sizes
        them."""


#: numpy dtype -> safetensors dtype name, for what encode_tensors writes (the same table).
_ST_DTYPES: dict[np.dtype[Any], str] = {np.dtype(v): k for k, v in _NUMPY_DTYPES.items()}
#: Largest piece of a tensor copied at once while encoding: bounds the encoder's own memory.
_PIECE = 16 * 1024 * 1024
#: Piece read from a file and written on by :class:`FileTensors`.
_COPY_PIECE = 4 * 1024 * 1024


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
    params: Mapping[str, Any] | TensorStream, metadata: Mapping[str, str] | None = None
) -> tuple[int, Iterator[bytes]]:
    """Encode ``params`` as safetensors, lazily: ``(total size, pieces of the encoding)``.

    The pieces are copies of at most 16 MiB of one tensor, so writing a model to a file or a
    socket never holds a second whole copy of it (what ``safetensors.numpy.save`` does). A
    :class:`TensorStream` is encoded from its layout and pieces as they come.
    """
    if isinstance(params, TensorStream):
        specs, data = params.layout(), params.pieces
    else:
        arrays = _prepare(params)
        specs = [(name, arr.dtype, arr.shape) for name, arr in arrays.items()]

        def data() -> Iterator[bytes]:
            for arr in arrays.values():
                flat = arr.reshape(-1).view(np.uint8)
                for start in range(0, flat.size, _PIECE):
                    yield flat[start : start + _PIECE].tobytes()

    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, shape in specs:
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        header[name] = {
            "dtype": _ST_DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data on 8 bytes
    prefix = struct.pack("<Q", len(raw)) + raw

    def pieces() -> Iterator[bytes]:
        yield prefix
        yield from data()

    return len(prefix) + offset, pieces()


def encode_tensors(
    params: Mapping[str, Any] | TensorStream, metadata: Mapping[str, str] | None = None
) -> bytes:
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
    # The bytes must be exactly the shape's: a reader that trusts the header (the tiled
    # mean reads a tensor's tiles by offset) would otherwise read a neighbour's bytes.
    if offsets[1] - offsets[0] != int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[info["dtype"]]:
        raise _invalid(f"tensor {name!r} has {offsets[1] - offsets[0]} bytes for shape {shape}")


def decode_tensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Decode safetensors bytes into ``(arrays, metadata)``; PAYLOAD_INVALID when malformed."""
    header = check_header(data, len(data))
    try:
        arrays: dict[str, np.ndarray] = st_load(data)
    except (SafetensorError, ValueError, TypeError) as exc:
        raise _invalid(f"payload is not valid safetensors: {exc}") from exc
    metadata = header.get("__metadata__") or {}
    return arrays, dict(metadata)


def read_file_layout(path: Path) -> tuple[dict[str, Any], int]:
    """Check a safetensors file's header without reading its tensors; return the header and
    where the tensor data starts (data offsets count from there)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise _invalid(f"{path.name} is shorter than a safetensors header")
        (n,) = struct.unpack("<Q", prefix)
        if n > MAX_HEADER_BYTES:
            raise _invalid(f"{path.name} header length {n} is over the limit")
        return check_header(prefix + fh.read(n), size), 8 + n


def read_file_header(path: Path) -> dict[str, Any]:
    """Check and return the header of a safetensors file without reading its tensors."""
    return read_file_layout(path)[0]


def _map_tensor(raw: BinaryIO, offset: int, size: int, dtype: str) -> np.ndarray:
    """``size`` bytes at ``offset`` of ``raw`` as a flat array over a mapping of just them:
    the pages are let go with the array, so only one tensor of a file is mapped at once."""
    count = size // np.dtype(dtype).itemsize
    if count == 0:
        return np.empty(0, dtype=dtype)
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY  # mmap offsets are page-aligned
    pages = mmap.mmap(
        raw.fileno(), offset + size - aligned, access=mmap.ACCESS_COPY, offset=aligned
    )
    return np.frombuffer(pages, dtype=dtype, count=count, offset=offset - aligned)


def iter_file_tensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` from a safetensors file one tensor at a time.

    Each array is a copy-on-write view of the file's pages (``mmap`` with ``ACCESS_COPY``,
    one mapping a tensor, released with the array), not a copy: folding an update reads it
    once, straight from the page cache, and nothing the size of the update is allocated (a
    copy cost as much as the fold itself). The arrays are writable; writes stay private to
    this process, never reach the file. The artifact store replaces files by rename, never
    in place, so a mapped file cannot change or shrink underneath. safetensors still checks
    the layout (offsets, sizes) first, as it did when it made the copies.
    """
    header = read_file_header(path)
    try:
        with safe_open(str(path), framework="numpy") as fh, path.open("rb") as raw:
            (header_len,) = struct.unpack("<Q", raw.read(8))
            for name in list(fh.keys()):  # in file order, as before
                info = header[name]
                dtype = _NUMPY_DTYPES.get(info["dtype"])
                if dtype is None:
                    yield name, fh.get_tensor(name)
                    continue
                start, stop = info["data_offsets"]
                yield (
                    name,
                    _map_tensor(raw, 8 + header_len + start, stop - start, dtype).reshape(
                        info["shape"]
                    ),
                )
    except SafetensorError as exc:
        raise _invalid(f"{path.name} is not valid safetensors: {exc}") from exc


def read_exact(fd: int, into: memoryview, offset: int, path: Path) -> None:
    """Fill ``into`` with the bytes of ``fd`` at ``offset`` (``preadv``: no seek, no copy
    beyond the kernel's); PAYLOAD_INVALID when the file ends first."""
    done = 0
    while done < len(into):
        got = os.preadv(fd, [into[done:]], offset + done)
        if got == 0:
            raise _invalid(
                f"{path.name} ended before its tensors did: it changed after it was checked"
            )
        done += got


class FileTensors:
    """A safetensors file's tensors as a :class:`TensorStream`: written elsewhere (a stored
    model becoming round 0's global model) piece by piece, through one reused buffer, so
    neither a copy nor the file's pages count against the process (as a mapping's would).
    The tensors come in :func:`iter_file_tensors`' order, byte for byte."""

    def __init__(self, path: Path) -> None:
        header, data_start = read_file_layout(path)
        self.path = path
        self._layout: list[TensorSpec] = []
        self._extents: list[tuple[int, int]] = []  # (file offset, bytes) of each tensor
        for name in sorted(n for n in header if n != "__metadata__"):
            info = header[name]
            dtype = numpy_dtype(info["dtype"])
            if dtype is None:
                raise _invalid(f"tensor {name!r} is {info['dtype']}, which numpy cannot hold")
            start, stop = info["data_offsets"]
            self._layout.append((name, dtype, tuple(info["shape"])))
            self._extents.append((data_start + start, stop - start))

    def layout(self) -> list[TensorSpec]:
        """The file's tensors: names (sorted), dtypes, shapes."""
        return list(self._layout)

    def chunks(self, elements: int = 1 << 18) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, flat array)`` of at most ``elements`` of a tensor at a time, in layout
        order, over one reused buffer: an array is valid until the next is yielded."""
        buffer = bytearray(elements * 8)  # the widest dtype
        view = memoryview(buffer)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for (name, dtype, _shape), (offset, size) in zip(
                self._layout, self._extents, strict=True
            ):
                step = elements * dtype.itemsize
                for start in range(0, size, step):
                    n = min(step, size - start)
                    read_exact(fd, view[:n], offset + start, self.path)
                    yield name, np.frombuffer(buffer, dtype=dtype, count=n // dtype.itemsize)
        finally:
            os.close(fd)

    def pieces(self) -> Iterator[bytes]:
        """The tensors' bytes, at most 4 MiB at a time."""
        buffer = memoryview(bytearray(_COPY_PIECE))
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for offset, size in self._extents:
                for start in range(0, size, _COPY_PIECE):
                    n = min(_COPY_PIECE, size - start)
                    read_exact(fd, buffer[:n], offset + start, self.path)
                    yield bytes(buffer[:n])
        finally:
            os.close(fd)
