"""Chunked, resumable, verified model transfers between the server and sites.

Downloads: a task's model is served whole when it fits one chunk, else in HTTP Range requests
checked against a manifest (sha256 of the file and of each chunk, computed once per file and
chunk size). Uploads larger than a chunk go through an upload session kept as a file per task:
each chunk is written at its offset and checked against its sha256; the client can ask how many
bytes the server holds and continue from there after a cut; on commit the whole file is hashed,
compared, and only then handed to :meth:`FleetService.accept_file` like a one-request upload.
Nothing reaches the aggregation before it is complete and verified.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field

from cohort.errors import Conflict, ErrorCode, InvalidRequest, NotFound, PayloadTooLarge
from cohort.schemas.fleet import DEFAULT_CHUNK_BYTES, UpdateReceipt, chunk_bytes_from_env
from cohort.schemas.records import TaskRecord
from cohort.server.services.fleet import FleetService
from cohort.server.services.jobs import job_dir
from cohort.tls import Identity

__all__ = ["MAX_CHUNK_BYTES", "Manifest", "TransferService", "UploadCommit", "UploadStatus"]

#: Largest chunk a site may ask for or send in one request.
MAX_CHUNK_BYTES = 256 * 1024 * 1024
_READ = 1 << 20
#: Bytes of an upload's body hashed and written per hop to a worker thread.
_BATCH = 1 << 20


class Manifest(BaseModel):
    """What a site checks a downloaded model against."""

    size: int
    sha256: str
    chunk_bytes: int
    chunks: list[str]


class UploadStatus(BaseModel):
    """How many bytes of a task's upload session the server holds."""

    task_id: str
    received: int


class UploadCommit(BaseModel):
    """The whole upload's size and sha256, which the assembled file must match."""

    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def _manifest(path: Path, chunk: int) -> Manifest:
    whole = hashlib.sha256()
    chunks: list[str] = []
    size = 0
    with path.open("rb") as fh:
        while True:
            part = hashlib.sha256()
            left = chunk
            while left and (block := fh.read(min(_READ, left))):
                part.update(block)
                whole.update(block)
                left -= len(block)
            if left == chunk:
                break
            size += chunk - left
            chunks.append(part.hexdigest())
    return Manifest(size=size, sha256=whole.hexdigest(), chunk_bytes=chunk, chunks=chunks)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_READ):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _absorb(fh: BinaryIO, hashers: list[Any], blocks: list[bytes]) -> None:
    for block in blocks:
        for hasher in hashers:
            hasher.update(block)  # hashlib releases the GIL on blocks this size
    fh.writelines(blocks)


class _Sink:
    """Hashes and writes a chunk's body in a worker thread, one batch of about
    :data:`_BATCH` bytes behind the event loop. The body arrives in TLS-record-sized blocks
    (16 KiB); hashing it twice (chunk and whole) and writing it on the event loop kept the
    loop from decrypting the next blocks, and one thread hop per block would cost more
    than it saves."""

    def __init__(self, fh: BinaryIO, hashers: list[Any]) -> None:
        self.fh = fh
        self.hashers = hashers
        self.blocks: list[bytes] = []
        self.size = 0
        self.pending: asyncio.Future[None] | None = None

    async def add(self, block: bytes) -> None:
        """Queue ``block``; hand a full batch to the thread once the previous one is done."""
        self.blocks.append(block)
        self.size += len(block)
        if self.size >= _BATCH:
            await self._hand_off()

    async def _hand_off(self) -> None:
        await self.settle()
        blocks, self.blocks, self.size = self.blocks, [], 0
        self.pending = asyncio.ensure_future(
            asyncio.to_thread(_absorb, self.fh, self.hashers, blocks)
        )

    async def flush(self) -> None:
        """Hash and write everything queued; return when it is done."""
        await self._hand_off()
        await self.settle()

    async def settle(self) -> None:
        """Wait for the batch in the thread (if any) to finish, even when cancelled meanwhile
        (the cancellation is raised after it): nothing may write to the file after this."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        cancelled = False
        while not pending.done():
            try:
                await asyncio.shield(pending)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        pending.result()


def check_chunk_size(chunk: int) -> int:
    """A site's chunk size, within (0, MAX_CHUNK_BYTES]; INVALID_REQUEST otherwise."""
    if not 0 < chunk <= MAX_CHUNK_BYTES:
        raise InvalidRequest(f"chunk size {chunk} is outside 1..{MAX_CHUNK_BYTES}")
    return chunk


class TransferService:
    """Manifests of served models and upload sessions of site results."""

    def __init__(self, fleet: FleetService) -> None:
        self.fleet = fleet
        self.state = fleet.state
        # (path, size, mtime, chunk) -> manifest; a global model is written once, so an entry
        # stays right until the file changes (and then its stat changes too).
        self._manifests: dict[tuple[str, int, int, int], asyncio.Future[Manifest]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # task id -> (bytes hashed, sha256 of them) for sessions written in order, so that a
        # commit need not read a multi-GB file again (lost on restart: then it re-reads).
        self._running: dict[str, tuple[int, Any]] = {}

    async def manifest(self, path: Path, chunk: int) -> Manifest:
        """The model file's manifest for ``chunk``-byte chunks, hashed once (in a thread,
        shared by every site asking at the same time)."""
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, check_chunk_size(chunk))
        found = self._manifests.get(key)
        if found is None:
            if len(self._manifests) > 64:  # old rounds' models: drop what is no longer asked for
                self._manifests.clear()
            found = asyncio.ensure_future(asyncio.to_thread(_manifest, path, chunk))
            self._manifests[key] = found
        try:
            return await asyncio.shield(found)
        except BaseException:
            if found.done():
                self._manifests.pop(key, None)
            raise

    async def model_manifest(self, key: str) -> Manifest:
        """The manifest of a stored model (by artifact key) for the chunk size of this
        process's environment, the one sites use unless configured otherwise; NOT_FOUND
        when there is no such file."""
        path = self.state.artifacts.path(key)
        if not path.is_file():
            raise NotFound(f"artifact {key!r} not found", details={"key": key})
        try:
            chunk = chunk_bytes_from_env()
        except ValueError:
            chunk = DEFAULT_CHUNK_BYTES
        if not 0 < chunk <= MAX_CHUNK_BYTES:
            chunk = DEFAULT_CHUNK_BYTES
        return await self.manifest(path, chunk)

    def _task(self, site: Identity, job_id: str, task_id: str) -> TaskRecord:
        self.fleet.job_for_site(site, job_id)
        return self.fleet.task_of(site, job_id, task_id)

    def model_path(self, site: Identity, job_id: str, task_id: str) -> Path:
        """The model file of the site's task (NOT_FOUND for a task without one)."""
        task = self._task(site, job_id, task_id)
        path = self.fleet.task_model_path(task)
        if path is None:
            raise NotFound(f"task {task_id} carries no model", code=ErrorCode.NOT_FOUND)
        return Path(path)

    def _session_path(self, job_id: str, task_id: str) -> Path:
        return self.state.artifacts.path(f"{job_dir(job_id)}/updates/session-{task_id}")

    def _lock(self, task_id: str) -> asyncio.Lock:
        return self._locks.setdefault(task_id, asyncio.Lock())

    def status(self, site: Identity, job_id: str, task_id: str) -> UploadStatus:
        """How many bytes of the upload the server holds (0 when no session exists)."""
        self._task(site, job_id, task_id)
        path = self._session_path(job_id, task_id)
        return UploadStatus(task_id=task_id, received=path.stat().st_size if path.exists() else 0)

    async def put_chunk(
        self,
        site: Identity,
        job_id: str,
        task_id: str,
        offset: int,
        sha256: str,
        body: AsyncIterator[bytes],
    ) -> UploadStatus:
        """Write one chunk at ``offset`` (at most the bytes held: a resent chunk replaces what
        followed it) and check its sha256; a bad or cut chunk leaves the session as before."""
        self._task(site, job_id, task_id)
        path = self._session_path(job_id, task_id)
        async with self._lock(task_id):
            # Read under the lock: a commit may have just completed the task.
            self.fleet.check_active(self._task(site, job_id, task_id))
            held = path.stat().st_size if path.exists() else 0
            if offset > held:
                raise Conflict(
                    f"chunk at offset {offset} but the server holds {held} bytes",
                    code=ErrorCode.CONFLICT,
                    details={"received": held},
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            limit = self.state.config.max_update_bytes
            digest = hashlib.sha256()
            done, whole = self._running.pop(task_id, (0, None))
            if done != offset or whole is None:
                whole = hashlib.sha256() if offset == 0 else None
            hashers = [digest] if whole is None else [digest, whole]
            with path.open("r+b" if path.exists() else "wb") as fh:
                fh.truncate(offset)
                fh.seek(offset)
                sink = _Sink(fh, hashers)
                try:
                    written = 0
                    async for block in body:
                        written += len(block)
                        if written > MAX_CHUNK_BYTES or offset + written > limit:
                            raise PayloadTooLarge(
                                f"chunk over {MAX_CHUNK_BYTES} bytes or upload over {limit}",
                                code=ErrorCode.PAYLOAD_TOO_LARGE,
                            )
                        await sink.add(block)
                    await sink.flush()
                    if digest.hexdigest() != sha256:
                        raise InvalidRequest(
                            f"chunk at offset {offset} does not match its sha256",
                            code=ErrorCode.CHECKSUM_MISMATCH,
                            hint="Send the chunk again.",
                        )
                except BaseException:
                    # Also a cut body (the client went away): keep only what was verified,
                    # once the worker thread no longer writes to the file.
                    try:
                        await sink.settle()
                    finally:
                        fh.truncate(offset)
                    raise
            if whole is not None:
                self._running[task_id] = (offset + written, whole)
            return UploadStatus(task_id=task_id, received=offset + written)

    async def commit(
        self, site: Identity, job_id: str, task_id: str, req: UploadCommit
    ) -> UpdateReceipt:
        """Check the assembled upload against its size and sha256, then accept it as the
        task's result. A commit retried after success answers as a duplicate."""
        self._task(site, job_id, task_id)
        path = self._session_path(job_id, task_id)
        async with self._lock(task_id):
            # Read under the lock: a commit retried while the first one ran sees it DONE.
            task = self._task(site, job_id, task_id)
            if not path.exists():
                # Nothing pending: a retried commit whose first answer was lost, or a mistake.
                return self.fleet.duplicate_or_conflict(task, req.sha256)
            done, whole = self._running.pop(task_id, (0, None))
            if whole is not None and done == path.stat().st_size:
                sha, size = whole.hexdigest(), done
            else:
                sha, size = await asyncio.to_thread(_hash_file, path)
            if (sha, size) != (req.sha256, req.size):
                path.unlink(missing_ok=True)
                raise InvalidRequest(
                    f"upload of task {task_id} has {size} bytes with sha256 {sha[:12]}..., "
                    f"expected {req.size} bytes with {req.sha256[:12]}...",
                    code=ErrorCode.CHECKSUM_MISMATCH,
                    hint="Upload the result again from the start.",
                )
            tmp = path.with_name(f"incoming-{task_id}-{os.getpid()}")
            os.replace(path, tmp)
            try:
                return self.fleet.accept_file(site, task, tmp, sha)
            finally:
                tmp.unlink(missing_ok=True)
                self._locks.pop(task_id, None)
