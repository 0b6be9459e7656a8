"""The artifact store: job archives, global models and site updates, by relative key.

Every implementation MUST behave as the :class:`ArtifactStore` docstrings say. Keys are relative
POSIX paths such as ``jobs/<id>/job.zip``; a write is all or nothing, so a reader (or a server
restarted after a crash) never finds a partial file at a key.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import IO, BinaryIO

from cohort.errors import ErrorCode, InvalidRequest, NotFound, PayloadTooLarge

__all__ = ["TEMP_SUFFIX", "ArtifactStore", "FileArtifactStore"]

#: Suffix of in-progress files; a file with it is never a finished artifact.
TEMP_SUFFIX = ".part"
_READ_CHUNK = 1 << 20


class ArtifactStore(abc.ABC):
    """Durable blobs by key. Writes are atomic: a key holds a whole file or nothing."""

    @abc.abstractmethod
    def path(self, key: str) -> Path:
        """Return the local path of ``key`` (which need not exist yet).

        MUST raise InvalidRequest(UNSAFE_PATH) for a key that is empty, absolute, contains
        ``..``, a backslash or NUL, or resolves outside the store; every method below checks
        keys the same way.
        """

    @abc.abstractmethod
    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` atomically and durably (replacing any file there);
        return its sha256 hex."""

    @abc.abstractmethod
    def write_stream(
        self, key: str, chunks: Iterable[bytes], max_bytes: int | None = None
    ) -> tuple[str, int]:
        """Write the chunks at ``key`` atomically; return ``(sha256 hex, size)``.

        MUST raise PayloadTooLarge and leave nothing behind (and any earlier file at ``key``
        untouched) once more than ``max_bytes`` arrive.
        """

    @abc.abstractmethod
    async def write_async_stream(
        self, key: str, chunks: AsyncIterator[bytes], max_bytes: int | None = None
    ) -> tuple[str, int]:
        """As :meth:`write_stream` for an async source (an upload body), never holding the
        whole payload in memory nor blocking the event loop on disk syncs."""

    @abc.abstractmethod
    def adopt(self, key: str, tmp_path: Path) -> str:
        """Move an already written file to ``key`` atomically and durably; return its sha256.

        ``tmp_path`` is consumed (it no longer exists afterwards).
        """

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open the artifact for reading. MUST raise NotFound(NOT_FOUND) if it does not exist."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Return True when a file or folder exists at ``key``."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete the folder (or file) at ``prefix`` with everything under it; no-op if absent."""

    @abc.abstractmethod
    def sha256(self, key: str) -> str:
        """Return the sha256 hex of the artifact. MUST raise NotFound(NOT_FOUND) if absent."""


def _unsafe(key: object, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"unsafe artifact key {key!r}: {why}", ErrorCode.UNSAFE_PATH, details={"key": str(key)}
    )


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable (where the OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse directory fsync
        pass
    finally:
        os.close(fd)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class _PendingFile:
    """A temp file next to its target that becomes the target only on :meth:`commit`.

    Until then nothing exists at the target's name; :meth:`discard` (or a crash) leaves at most
    a ``*.part`` file, never a partial artifact.
    """

    def __init__(self, target: Path, max_bytes: int | None) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
        )
        self.tmp = Path(name)
        self._handle: IO[bytes] = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk, refusing it when it takes the file over ``max_bytes``."""
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"upload is over the limit of {self.max_bytes} bytes",
                details={"limit": self.max_bytes},
            )
        self._digest.update(chunk)
        self._handle.write(chunk)

    def commit(self) -> str:
        """Flush, fsync, rename into place and fsync the folder; return the sha256 hex.

        On failure the temp file is removed and the target is left as it was.
        """
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self.tmp, self.target)
        except BaseException:
            self.discard()
            raise
        _fsync_dir(self.target.parent)
        return self._digest.hexdigest()

    def discard(self) -> None:
        """Close and remove the temp file."""
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class FileArtifactStore(ArtifactStore):
    """Artifacts as files under ``root`` on a local (or mounted) file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Return the validated local path of ``key``."""
        if not isinstance(key, str) or not key:
            raise _unsafe(key, "empty")
        if "\x00" in key:
            raise _unsafe(key, "contains NUL")
        if "\\" in key:
            raise _unsafe(key, "contains a backslash")
        if key.startswith("/"):
            raise _unsafe(key, "absolute")
        if ".." in key:
            raise _unsafe(key, "contains '..'")
        parts = key.split("/")
        if any(part in ("", ".") for part in parts):
            raise _unsafe(key, "empty or '.' path component")
        candidate = self.root.joinpath(*parts)
        # resolve() follows symlinks: a link inside the store must not lead outside it.
        resolved = candidate.resolve()
        if resolved == self.root or not resolved.is_relative_to(self.root):
            raise _unsafe(key, "outside the artifact store")
        return candidate

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` atomically; return its sha256 hex."""
        digest, _size = self.write_stream(key, [data])
        return digest

    def write_stream(
        self, key: str, chunks: Iterable[bytes], max_bytes: int | None = None
    ) -> tuple[str, int]:
        """Write the chunks atomically; return ``(sha256 hex, size)``."""
        pending = _PendingFile(self.path(key), max_bytes)
        try:
            for chunk in chunks:
                pending.write(chunk)
        except BaseException:
            pending.discard()
            raise
        return pending.commit(), pending.size

    async def write_async_stream(
        self, key: str, chunks: AsyncIterator[bytes], max_bytes: int | None = None
    ) -> tuple[str, int]:
        """Write an async stream atomically; return ``(sha256 hex, size)``.

        Chunks go to the OS as they come (a buffered write is cheap); opening, the fsyncs and
        the rename run in a worker thread, as they can stall on a busy disk.
        """
        target = self.path(key)
        pending = await asyncio.to_thread(_PendingFile, target, max_bytes)
        try:
            async for chunk in chunks:
                pending.write(chunk)
        except BaseException:
            # Also on cancellation (client gone): nothing may stay behind.
            pending.discard()
            raise
        # Once all data is in, a cancellation only abandons the wait: the thread still finishes
        # the commit (or cleans up), so the key never sees a partial file either way.
        digest = await asyncio.to_thread(pending.commit)
        return digest, pending.size

    def adopt(self, key: str, tmp_path: Path) -> str:
        """Fsync ``tmp_path`` and rename it to ``key``; return its sha256 hex."""
        target = self.path(key)
        source = Path(tmp_path)
        if not source.is_file():
            raise NotFound(f"file to adopt {str(source)!r} does not exist", ErrorCode.NOT_FOUND)
        digest = _hash_file(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb+") as handle:
            os.fsync(handle.fileno())
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # On another file system: copy next to the target, then rename atomically.
            with source.open("rb") as handle:
                self.write_stream(key, iter(lambda: handle.read(_READ_CHUNK), b""))
            source.unlink()
        _fsync_dir(target.parent)
        return digest

    def open_read(self, key: str) -> BinaryIO:
        """Open the artifact for reading; NotFound(NOT_FOUND) when absent."""
        target = self.path(key)
        try:
            return target.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"artifact {key!r} not found", details={"key": key}) from None

    def exists(self, key: str) -> bool:
        """Return True when a file or folder exists at ``key``."""
        return self.path(key).exists()

    def delete_prefix(self, prefix: str) -> None:
        """Remove the folder (or file) at ``prefix``; no-op when absent."""
        target = self.path(prefix.rstrip("/"))
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            return
        _fsync_dir(target.parent)

    def sha256(self, key: str) -> str:
        """Return the artifact's sha256 hex; NotFound(NOT_FOUND) when absent."""
        target = self.path(key)
        if not target.is_file():
            raise NotFound(f"artifact {key!r} not found", details={"key": key})
        return _hash_file(target)
