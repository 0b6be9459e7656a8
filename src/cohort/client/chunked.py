"""A site's side of chunked model transfers (the server's is server/services/transfer.py).

Downloads go to a file chunk by chunk (HTTP Range), each chunk checked against the server's
manifest and fetched again when it does not match; uploads go from a file chunk by chunk into
an upload session, and after a cut the site asks the server how much it holds and continues
from there. Memory stays at about one chunk whatever the model's size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from cohort.errors import CohortError, ErrorCode
from cohort.httpclient import check_response
from cohort.schemas.fleet import (
    BODY_SHA256_HEADER,
    DEFAULT_CHUNK_BYTES,
    UpdateReceipt,
    chunk_bytes_from_env,
)
from cohort.wire.payload import PayloadHeader, iter_payload, load_payload_file, write_hashed

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "chunk_bytes_from_env",
    "download_model",
    "transfer_dir",
    "upload_file",
    "write_payload_temp",
]

#: Times one chunk is fetched or sent again after a checksum mismatch before giving up.
CHUNK_ATTEMPTS = 5

Request = Callable[..., httpx.Response]


def transfer_dir() -> Path:
    """Where partial transfers live: ``COHORT_TRANSFER_DIR`` (set by the site agent)."""
    path = Path(os.environ.get("COHORT_TRANSFER_DIR") or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mismatch(message: str) -> CohortError:
    return CohortError(message, code=ErrorCode.CHECKSUM_MISMATCH)


def _fetch_chunk(request: Request, url: str, start: int, length: int, sha: str) -> bytes:
    for _ in range(CHUNK_ATTEMPTS):
        headers = {"Range": f"bytes={start}-{start + length - 1}"}
        response = check_response(request("GET", url, headers=headers))
        data = response.content
        if len(data) == length and hashlib.sha256(data).hexdigest() == sha:
            return data
    raise _mismatch(f"chunk at {start} of {url} did not match its sha256 {CHUNK_ATTEMPTS} times")


def download_model(
    request: Request, base: str, task_id: str, chunk: int
) -> tuple[dict[str, np.ndarray], PayloadHeader]:
    """Fetch a task's model in verified chunks into a file, then load it.

    Every byte is checked once, against its chunk's sha256; the chunks tile the file exactly
    (their count and lengths follow from its size), so they are the file the manifest's
    sha256 names, and hashing the whole again would only cost a second pass."""
    url = f"{base}/tasks/{task_id}/model"
    manifest = check_response(request("GET", f"{url}/manifest", params={"chunk": chunk})).json()
    size, step = int(manifest["size"]), int(manifest["chunk_bytes"])
    chunks: list[str] = manifest["chunks"]
    if step <= 0 or len(chunks) != -(-size // step):
        raise _mismatch(f"manifest of task {task_id}: {len(chunks)} chunks for {size} bytes")
    fd, name = tempfile.mkstemp(dir=transfer_dir(), prefix=f"model-{task_id}-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for index, sha in enumerate(chunks):
                start = index * step
                fh.write(_fetch_chunk(request, url, start, min(step, size - start), sha))
        return load_payload_file(path)
    finally:
        path.unlink(missing_ok=True)


def write_payload_temp(params: Mapping[str, Any], header: PayloadHeader) -> tuple[Path, str, int]:
    """Encode a payload straight into a temp file; return ``(path, sha256, size)``."""
    size, pieces = iter_payload(params, header)
    fd, name = tempfile.mkstemp(dir=transfer_dir(), prefix="update-", suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        sha = write_hashed(fh, pieces)
    return Path(name), sha, size


def _held(request: Request, url: str) -> int:
    return int(check_response(request("GET", url)).json()["received"])


def upload_file(
    request: Request, base: str, task_id: str, path: Path, sha: str, chunk: int
) -> UpdateReceipt:
    """Send a result file through an upload session, continuing where the server stands."""
    url = f"{base}/tasks/{task_id}/upload"
    size = path.stat().st_size
    offset = _held(request, url)
    mismatches = 0
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            data = fh.read(min(chunk, size - offset))
            headers = {
                BODY_SHA256_HEADER: hashlib.sha256(data).hexdigest(),
                "Content-Type": "application/octet-stream",
            }
            try:
                response = request(
                    "PUT", url, params={"offset": offset}, content=data, headers=headers
                )
                offset = int(check_response(response).json()["received"])
            except CohortError as exc:
                # A chunk damaged on the way, or a session that moved (a retried request that
                # did land): ask what the server holds and go on from there.
                if exc.code not in (ErrorCode.CHECKSUM_MISMATCH, ErrorCode.CONFLICT):
                    raise
                mismatches += 1
                if mismatches > CHUNK_ATTEMPTS * max(1, size // max(chunk, 1)):
                    raise
                offset = _held(request, url)
    response = request("POST", f"{url}/commit", json={"size": size, "sha256": sha})
    return UpdateReceipt.model_validate(check_response(response).json())
