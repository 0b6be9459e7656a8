"""The upload path's worker-thread sink (server/services/transfer.py): a chunk's body, arriving
in small blocks, is hashed and written in order in batches off the event loop, and once
``settle`` returns after a failure nothing writes to the file any more (so truncating it to
the verified bytes is final)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path

from cohort.server.services.transfer import _BATCH, _Sink


def _blocks(total: int, size: int) -> list[bytes]:
    data = os.urandom(total)
    return [data[i : i + size] for i in range(0, total, size)]


def test_blocks_are_written_in_order_and_hashed_once_each(tmp_path: Path) -> None:
    blocks = _blocks(3 * _BATCH + 12_345, 16 * 1024)  # several batches and a partial one
    chunk, whole = hashlib.sha256(), hashlib.sha256()

    async def run() -> None:
        with (tmp_path / "session").open("wb") as fh:
            sink = _Sink(fh, [chunk, whole])
            for block in blocks:
                await sink.add(block)
            await sink.flush()

    asyncio.run(run())
    data = b"".join(blocks)
    assert (tmp_path / "session").read_bytes() == data
    assert chunk.hexdigest() == whole.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_body_cut_mid_batch_leaves_only_the_bytes_before_it(tmp_path: Path) -> None:
    held = os.urandom(1000)
    path = tmp_path / "session"
    path.write_bytes(held)

    async def body() -> None:
        with path.open("r+b") as fh:
            fh.seek(len(held))
            sink = _Sink(fh, [hashlib.sha256()])
            try:
                for block in _blocks(2 * _BATCH + 5, 64 * 1024):
                    await sink.add(block)  # a batch is in the thread when the cut comes
                raise ConnectionResetError("client went away")
            except BaseException:
                try:
                    await sink.settle()
                finally:
                    fh.truncate(len(held))
                raise

    with contextlib.suppress(ConnectionResetError):
        asyncio.run(body())
    # The batch still in the thread at the cut was written before the truncation, not after.
    assert path.read_bytes() == held


def test_settle_waits_for_the_thread_even_when_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "session"
    blocks = _blocks(_BATCH, 256 * 1024)

    async def run() -> None:
        with path.open("wb") as fh:
            sink = _Sink(fh, [hashlib.sha256()])
            for block in blocks:
                await sink.add(block)  # the last add hands the whole batch to the thread
            waiter = asyncio.ensure_future(sink.settle())
            await asyncio.sleep(0)
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            # settle returned (cancelled) only once the batch was written
            assert fh.tell() == _BATCH

    asyncio.run(run())
    assert path.stat().st_size == _BATCH
