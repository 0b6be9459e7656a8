"""FedAvg's sample-weighted mean over a round's stored update files, folded tile by tile once
the round's updates are in.

The running fold (:class:`~cohort.aggregators.weighted.WeightedMean`) keeps a float64 sum the
size of the model and reads and writes it once per update: 4 bytes of update and 16 of sum
per element, and twice the model in memory. Here the updates stay in their files until the
round ends; then, for each tile of a few 10k elements, a float64 accumulator small enough to
stay in the CPU's cache receives ``w_k * float64(update_k[tile])`` for every update ``k`` in
a fixed order, is divided by the total weight and cast, and goes straight to the output (the
global model's file, piece by piece, or an array). Each update byte is read once, with
``preadv`` into a reused buffer (touched pages of a memory map would count in the process's
resident memory), and the sum never leaves the cache: the job process's memory is a constant
whatever the model's size or the number of updates.

Each element is computed exactly as the running fold computes it (``0.0``, then ``+= w * x``
in the same order, then ``/ total``, then the cast), so the two give the same bits. The order
is the updates' keys (the site names), whatever order the files were added in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cohort.aggregators.weighted import check_weight, mismatch, no_weight
from cohort.errors import InvalidRequest
from cohort.wire.tensors import TensorSpec, numpy_dtype, read_exact, read_file_layout

__all__ = ["TiledMean"]

#: Elements per tile: the float64 accumulator and product (256 KiB each) and the read buffer
#: stay in a core's L2 cache (2 MiB here; 2^15 and 2^16 measured alike, 2^17 and up slower).
_TILE = 1 << 15
#: Updates whose files are held open during a fold; above this (thousands of simulated
#: sites) each read opens its file, so the fold never runs out of file descriptors.
_MAX_OPEN = 256
#: Bytes of the read buffer: a tile of the widest dtype (8 bytes an element).
_RAW = _TILE * 8


@dataclass(frozen=True)
class _Update:
    key: str
    path: Path
    weight: float
    #: name -> (dtype in the file, byte offset of the tensor's data in the file)
    tensors: dict[str, tuple[np.dtype[Any], int]]


class TiledMean:
    """Sample-weighted mean of update files, computed tile by tile when it is read out.

    :meth:`add_file` only checks an update's header (names, shapes, dtypes) against the
    first one's and remembers the file, so a mismatched update is refused before anything
    is written. The mean is then read out once, either as a :class:`TensorStream`
    (:meth:`layout` and :meth:`pieces`, for writing the global model's file) or as arrays
    (:meth:`result`). The files must not change until then (the artifact store replaces
    files by rename, never in place).
    """

    def __init__(self) -> None:
        self._updates: list[_Update] = []
        self._layout: list[TensorSpec] = []
        self.total_weight = 0.0
        self.count = 0

    def add_file(self, path: Path, weight: float, key: str = "") -> None:
        """Add one update file with its weight; ``key`` (the site) sets the fold order."""
        check_weight(weight)
        header, data_start = read_file_layout(path)
        tensors: dict[str, tuple[np.dtype[Any], int]] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        for name in sorted(n for n in header if n != "__metadata__"):  # iter_file_tensors' order
            info = header[name]
            dtype = numpy_dtype(info["dtype"])
            if dtype is None:
                raise InvalidRequest(f"tensor {name!r} is {info['dtype']}, which numpy cannot fold")
            tensors[name] = (dtype, data_start + info["data_offsets"][0])
            shapes[name] = tuple(info["shape"])
        if not self._updates:
            self._layout = [(name, tensors[name][0], shapes[name]) for name in tensors]
        else:
            self._check_fits(shapes)
        self._updates.append(_Update(key, path, weight, tensors))
        self.total_weight += weight
        self.count += 1

    def _check_fits(self, shapes: dict[str, tuple[int, ...]]) -> None:
        expected = {name: shape for name, _dtype, shape in self._layout}
        for name, shape in shapes.items():
            if name not in expected:
                raise mismatch(f"tensor {name!r} is not in earlier updates")
            if shape != expected[name]:
                raise mismatch(f"tensor {name!r} has shape {shape}, expected {expected[name]}")
        if set(shapes) != set(expected):
            raise mismatch(f"update lacks tensors {sorted(set(expected) - set(shapes))}")

    def layout(self) -> list[TensorSpec]:
        """The mean's tensors: the first update's names, shapes and dtypes."""
        return list(self._layout)

    def pieces(self) -> Iterator[bytes]:
        """The mean's bytes, tensor after tensor, one tile at a time."""
        for _name, dtype, _start, mean in self._fold():
            yield mean.astype(dtype).tobytes()

    def result(self) -> dict[str, np.ndarray]:
        """The mean as arrays, each tensor in its first update's dtype (memory: one model)."""
        out = {name: np.empty(shape, dtype=dtype) for name, dtype, shape in self._layout}
        for name, _dtype, start, mean in self._fold():
            out[name].reshape(-1)[start : start + mean.size] = mean  # the cast, as astype
        return out

    def _fold(self) -> Iterator[tuple[str, np.dtype[Any], int, np.ndarray]]:
        """Yield ``(name, dtype, first element, float64 mean of the tile)``; the tile's array
        is reused for the next one."""
        if self.count == 0 or self.total_weight <= 0:
            raise no_weight()
        updates = sorted(self._updates, key=lambda u: u.key)  # stable: ties keep add order
        acc = np.empty(_TILE, dtype=np.float64)
        product = np.empty(_TILE, dtype=np.float64)
        raw = bytearray(_RAW)
        view = memoryview(raw)
        with _Files([u.path for u in updates]) as files:
            for name, dtype, shape in self._layout:
                size = int(np.prod(shape, dtype=np.int64))
                for start in range(0, size, _TILE):
                    n = min(_TILE, size - start)
                    tile, prod = acc[:n], product[:n]
                    tile.fill(0.0)  # the running fold's zeros: 0.0 + -0.0 is 0.0, as there
                    for k, update in enumerate(updates):
                        src, offset = update.tensors[name]
                        nbytes = n * src.itemsize
                        files.read(k, view[:nbytes], offset + start * src.itemsize)
                        # float64(x) then * w: what multiply(x, w, dtype=float64) computes
                        # (measured as fast as that ufunc's buffered cast, not faster).
                        np.copyto(prod, np.frombuffer(raw, dtype=src, count=n))
                        np.multiply(prod, update.weight, out=prod)
                        np.add(tile, prod, out=tile)
                    np.divide(tile, self.total_weight, out=tile)
                    yield name, dtype, start, tile


class _Files:
    """The updates' files, read by offset: held open, or opened for each read when there
    are more than ``_MAX_OPEN`` of them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.fds: list[int] = []
        self.held = len(paths) <= _MAX_OPEN

    def __enter__(self) -> _Files:
        if self.held:
            for path in self.paths:
                self.fds.append(os.open(path, os.O_RDONLY))
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()

    def read(self, k: int, into: memoryview, offset: int) -> None:
        """Fill ``into`` with the bytes of file ``k`` at ``offset``."""
        if self.held:
            read_exact(self.fds[k], into, offset, self.paths[k])
            return
        fd = os.open(self.paths[k], os.O_RDONLY)
        try:
            read_exact(fd, into, offset, self.paths[k])
        finally:
            os.close(fd)
