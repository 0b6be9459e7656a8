"""Chunked uploads of the edge dialect: ``file-upload/init`` -> chunks -> ``complete`` gives a
file token that ``POST models/`` and ``POST packages/`` take. Chunks are kept as files in the
artifact store and joined once, so no upload is ever held whole in memory but the final read
of a (small) seed model or package."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator

from cohort.errors import InvalidRequest, NotFound, PayloadTooLarge
from cohort.schemas.edge import UploadInit
from cohort.server.state import ServerState

__all__ = ["Uploads"]

ROOT = "edge/uploads"


class Uploads:
    """Open uploads, their chunks and their finished files."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def _dir(self, upload_id: str) -> str:
        if not upload_id.isalnum():
            raise NotFound(f"upload {upload_id!r} not found")
        key = f"{ROOT}/{upload_id}"
        if not self.state.artifacts.exists(f"{key}/init"):
            raise NotFound(f"upload {upload_id!r} not found", details={"upload_id": upload_id})
        return key

    def init(self, req: UploadInit) -> str:
        """Open an upload; its id."""
        if req.file_size > self.state.config.max_job_bytes:
            raise PayloadTooLarge(
                f"{req.file_size} bytes is over the limit of {self.state.config.max_job_bytes}",
            )
        upload_id = uuid.uuid4().hex
        self.state.artifacts.write_bytes(f"{ROOT}/{upload_id}/init", req.model_dump_json().encode())
        return upload_id

    async def chunk(self, upload_id: str, index: int, body: AsyncIterator[bytes]) -> None:
        """Store chunk ``index``."""
        key = self._dir(upload_id)
        await self.state.artifacts.write_async_stream(
            f"{key}/chunk-{index:08d}", body, self.state.config.max_job_bytes
        )

    def complete(self, upload_id: str) -> str:
        """Join the chunks in order; the file token (the upload id)."""
        key = self._dir(upload_id)
        folder = self.state.artifacts.path(key)
        with (folder / "file").open("wb") as out:
            for part in sorted(folder.glob("chunk-*")):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
                part.unlink()
        return upload_id

    def abort(self, upload_id: str) -> None:
        """Drop an upload and its chunks."""
        self.state.artifacts.delete_prefix(self._dir(upload_id))

    def take(self, file_token: str) -> bytes:
        """The joined file of a completed upload, which is then dropped."""
        key = self._dir(file_token)
        path = self.state.artifacts.path(f"{key}/file")
        if not path.is_file():
            raise InvalidRequest(f"upload {file_token!r} is not complete")
        data = path.read_bytes()
        self.state.artifacts.delete_prefix(key)
        return data
