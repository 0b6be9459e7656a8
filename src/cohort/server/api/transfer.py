"""Chunked model transfers on the fleet API (see :mod:`cohort.server.services.transfer`).

- ``GET  .../tasks/{task_id}/model/manifest?chunk=N``: size, sha256 and per-chunk sha256;
- ``GET  .../tasks/{task_id}/model`` with ``Range: bytes=a-b``: one chunk (206);
- ``GET  .../tasks/{task_id}/upload``: how many bytes of the upload the server holds;
- ``PUT  .../tasks/{task_id}/upload?offset=N`` with ``X-Cohort-Sha256``: one chunk;
- ``POST .../tasks/{task_id}/upload/commit``: size and sha256 of the whole; the result is
  accepted as if uploaded in one request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from cohort.schemas.fleet import BODY_SHA256_HEADER, UpdateReceipt
from cohort.server.api.auth import site_identity
from cohort.server.api.deps import Services, services
from cohort.server.api.files import BulkFileResponse
from cohort.server.services.transfer import (
    MAX_CHUNK_BYTES,
    Manifest,
    UploadCommit,
    UploadStatus,
)
from cohort.tls import Identity

__all__ = ["router"]

router = APIRouter(prefix="/fleet/v1/jobs/{job_id}/tasks/{task_id}", tags=["fleet"])
Site = Annotated[Identity, Depends(site_identity)]
Svc = Annotated[Services, Depends(services)]


@router.get("/model/manifest", response_model=Manifest)
async def model_manifest(
    job_id: str,
    task_id: str,
    site: Site,
    svc: Svc,
    chunk: Annotated[int, Query(gt=0, le=MAX_CHUNK_BYTES)],
) -> Manifest:
    """The task model's size, sha256 and the sha256 of each ``chunk``-byte chunk."""
    path = svc.transfer.model_path(site, job_id, task_id)
    return await svc.transfer.manifest(path, chunk)


@router.get("/model")
async def model(job_id: str, task_id: str, site: Site, svc: Svc) -> BulkFileResponse:
    """The task's model; a ``Range`` request gets just that part (206), streamed."""
    path = svc.transfer.model_path(site, job_id, task_id)
    return BulkFileResponse(path, media_type="application/octet-stream")


@router.get("/upload", response_model=UploadStatus)
async def upload_status(job_id: str, task_id: str, site: Site, svc: Svc) -> UploadStatus:
    """How many bytes of this task's upload the server holds: where to continue."""
    return svc.transfer.status(site, job_id, task_id)


@router.put("/upload", response_model=UploadStatus)
async def upload_chunk(
    job_id: str,
    task_id: str,
    request: Request,
    site: Site,
    svc: Svc,
    offset: Annotated[int, Query(ge=0)],
    sha256: Annotated[str, Header(alias=BODY_SHA256_HEADER, pattern=r"^[0-9a-f]{64}$")],
) -> UploadStatus:
    """Write one chunk at ``offset``, streamed to disk and checked against its sha256."""
    return await svc.transfer.put_chunk(site, job_id, task_id, offset, sha256, request.stream())


@router.post("/upload/commit", response_model=UpdateReceipt)
async def upload_commit(
    job_id: str, task_id: str, req: UploadCommit, site: Site, svc: Svc
) -> UpdateReceipt:
    """Verify the assembled upload and accept it as the task's result."""
    return await svc.transfer.commit(site, job_id, task_id, req)
