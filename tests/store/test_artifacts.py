"""FileArtifactStore: key safety, atomic writes, size limits, streaming."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from cohort.errors import ErrorCode, InvalidRequest, NotFound, PayloadTooLarge
from cohort.store import ArtifactStore, FileArtifactStore
from cohort.store.artifacts import TEMP_SUFFIX


@pytest.fixture
def store(tmp_path: Path) -> FileArtifactStore:
    return FileArtifactStore(tmp_path / "artifacts")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def all_files(root: Path) -> list[str]:
    """Every file under ``root`` (temp files included), relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


UNSAFE_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "jobs/../../outside",
    "jobs/..",
    "..",
    "jobs\\x\\job.zip",
    "jobs/x\x00/job.zip",
    "jobs//job.zip",
    "./jobs/job.zip",
    "jobs/./job.zip",
    "jobs/x/",
]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused_everywhere(store: FileArtifactStore, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.path(key),
        lambda: store.write_bytes(key, b"x"),
        lambda: store.write_stream(key, [b"x"]),
        lambda: store.open_read(key),
        lambda: store.exists(key),
        lambda: store.sha256(key),
    ]
    for call in calls:
        with pytest.raises(InvalidRequest) as info:
            call()
        assert info.value.code == ErrorCode.UNSAFE_PATH
    assert all_files(store.root) == []


def test_symlink_out_of_the_store_is_refused(store: FileArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "jobs").mkdir()
    (store.root / "jobs" / "evil").symlink_to(outside)
    with pytest.raises(InvalidRequest) as info:
        store.write_bytes("jobs/evil/job.zip", b"x")
    assert info.value.code == ErrorCode.UNSAFE_PATH
    assert list(outside.iterdir()) == []


def test_delete_prefix_refuses_the_root(store: FileArtifactStore) -> None:
    store.write_bytes("jobs/a/job.zip", b"x")
    for prefix in ("", "/", "..", "jobs/.."):
        with pytest.raises(InvalidRequest):
            store.delete_prefix(prefix)
    assert store.exists("jobs/a/job.zip")


def test_write_bytes_round_trip(store: FileArtifactStore) -> None:
    data = b"model bytes" * 1000
    digest = store.write_bytes("jobs/j1/rounds/0/global.safetensors", data)
    assert digest == sha(data)
    assert store.exists("jobs/j1/rounds/0/global.safetensors")
    assert store.exists("jobs/j1")
    assert store.sha256("jobs/j1/rounds/0/global.safetensors") == digest
    with store.open_read("jobs/j1/rounds/0/global.safetensors") as handle:
        assert handle.read() == data
    assert store.path("jobs/j1/rounds/0/global.safetensors").read_bytes() == data
    assert all_files(store.root) == ["jobs/j1/rounds/0/global.safetensors"], "no temp file left"


def test_write_replaces_atomically(store: FileArtifactStore) -> None:
    store.write_bytes("a/b.bin", b"old")
    store.write_bytes("a/b.bin", b"new")
    assert store.path("a/b.bin").read_bytes() == b"new"
    assert all_files(store.root) == ["a/b.bin"]


def test_failing_source_leaves_nothing_and_keeps_old_file(store: FileArtifactStore) -> None:
    store.write_bytes("a/b.bin", b"old")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.write_stream("a/b.bin", chunks())
    assert store.path("a/b.bin").read_bytes() == b"old"
    with pytest.raises(ConnectionError):
        store.write_stream("a/new.bin", chunks())
    assert not store.exists("a/new.bin")
    assert all_files(store.root) == ["a/b.bin"]


def test_crash_mid_write_leaves_no_partial_file_at_the_key(
    store: FileArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the rename, the data lives under another name: a crash cannot expose it."""
    seen: list[bool] = []

    def fake_replace(src: object, dst: object) -> None:
        seen.append(Path(str(dst)).exists())
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", fake_replace)
    with pytest.raises(OSError, match="power cut"):
        store.write_bytes("a/b.bin", b"data")
    assert seen == [False]
    assert not store.exists("a/b.bin")
    assert all_files(store.root) == []


def test_write_stream_returns_hash_and_size(store: FileArtifactStore) -> None:
    chunks = [os.urandom(1000) for _ in range(10)]
    digest, size = store.write_stream("u/x.bin", iter(chunks), max_bytes=10_000)
    assert (digest, size) == (sha(b"".join(chunks)), 10_000)
    assert store.sha256("u/x.bin") == digest


def test_write_stream_over_limit_leaves_nothing(store: FileArtifactStore) -> None:
    store.write_bytes("u/x.bin", b"old")
    with pytest.raises(PayloadTooLarge) as info:
        store.write_stream("u/x.bin", iter([b"a" * 600, b"b" * 600]), max_bytes=1000)
    assert info.value.code == ErrorCode.PAYLOAD_TOO_LARGE
    assert store.path("u/x.bin").read_bytes() == b"old"
    with pytest.raises(PayloadTooLarge):
        store.write_stream("u/y.bin", iter([b"a" * 1001]), max_bytes=1000)
    assert all_files(store.root) == ["u/x.bin"]


def test_write_stream_stops_reading_once_over_limit(store: FileArtifactStore) -> None:
    pulled: list[int] = []

    def endless() -> Iterator[bytes]:
        n = 0
        while True:
            n += 1
            pulled.append(n)
            yield b"x" * 100

    with pytest.raises(PayloadTooLarge):
        store.write_stream("u/x.bin", endless(), max_bytes=1000)
    assert len(pulled) == 11


async def agen(chunks: list[bytes], fail: bool = False) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk
    if fail:
        raise ConnectionError("client went away")


def test_async_stream(store: FileArtifactStore) -> None:
    chunks = [os.urandom(4096) for _ in range(16)]
    digest, size = asyncio.run(store.write_async_stream("u/a.bin", agen(chunks), max_bytes=None))
    assert (digest, size) == (sha(b"".join(chunks)), 16 * 4096)
    assert store.path("u/a.bin").read_bytes() == b"".join(chunks)
    assert all_files(store.root) == ["u/a.bin"]


def test_async_stream_over_limit_or_failing_leaves_nothing(store: FileArtifactStore) -> None:
    with pytest.raises(PayloadTooLarge):
        asyncio.run(store.write_async_stream("u/a.bin", agen([b"x" * 10] * 11), max_bytes=100))
    with pytest.raises(ConnectionError):
        asyncio.run(store.write_async_stream("u/a.bin", agen([b"x"], fail=True)))
    assert all_files(store.root) == []


def test_async_stream_cancelled_leaves_nothing(store: FileArtifactStore) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"first"
            started.set()
            await asyncio.sleep(60)
            yield b"never"

        task = asyncio.create_task(store.write_async_stream("u/a.bin", slow()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert all_files(store.root) == []


def test_adopt_moves_a_written_file(store: FileArtifactStore, tmp_path: Path) -> None:
    tmp = store.root / "incoming.tmp"
    tmp.write_bytes(b"update")
    digest = store.adopt("jobs/j/updates/t.safetensors", tmp)
    assert digest == sha(b"update")
    assert not tmp.exists()
    assert store.path("jobs/j/updates/t.safetensors").read_bytes() == b"update"
    with pytest.raises(NotFound):
        store.adopt("jobs/j/other", tmp_path / "missing")
    with pytest.raises(InvalidRequest):
        store.adopt("../x", tmp_path / "missing")


def test_missing_artifacts_are_not_found(store: FileArtifactStore) -> None:
    assert store.exists("nope/x.bin") is False
    with pytest.raises(NotFound):
        store.open_read("nope/x.bin")
    with pytest.raises(NotFound):
        store.sha256("nope/x.bin")


def test_delete_prefix(store: FileArtifactStore) -> None:
    store.write_bytes("jobs/a/job.zip", b"1")
    store.write_bytes("jobs/a/rounds/0/m", b"2")
    store.write_bytes("jobs/ab/job.zip", b"3")
    store.delete_prefix("jobs/a")
    assert not store.exists("jobs/a")
    assert store.exists("jobs/ab/job.zip"), "a prefix is a folder, not a string prefix"
    store.delete_prefix("jobs/a/")  # already gone: no-op
    store.delete_prefix("jobs/ab/job.zip")  # a file key is removed too
    assert all_files(store.root) == []


def test_is_an_artifact_store(store: FileArtifactStore) -> None:
    assert isinstance(store, ArtifactStore)


def test_killed_writer_leaves_only_a_temp_file(store: FileArtifactStore) -> None:
    """A process that dies mid-write (no cleanup runs) leaves no file at the key."""
    script = f"""
import os
from pathlib import Path
from cohort.store import FileArtifactStore

def chunks():
    yield b"half of the model"
    os._exit(9)

FileArtifactStore(Path({str(store.root)!r})).write_stream("jobs/j/job.zip", chunks())
"""
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == 9
    assert not store.exists("jobs/j/job.zip")
    leftovers = all_files(store.root)
    assert len(leftovers) == 1 and leftovers[0].endswith(TEMP_SUFFIX)
