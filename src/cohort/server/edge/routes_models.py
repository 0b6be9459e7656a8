"""Edge routes for models (the trail, download, seed upload), the active helper, compute
packages and chunked uploads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Request

from cohort.errors import InvalidRequest
from cohort.schemas.edge import EdgeModel, Listing, Package, UploadInit
from cohort.server.api.files import BulkFileResponse
from cohort.server.edge.deps import Edge, Page, Reader, Writer, both, listing
from cohort.server.edge.uploads import Uploads
from cohort.server.rest.deps import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
HELPER = "numpyhelper"


@both(router.get, "/models", response_model=Listing[EdgeModel], tags=["models"])
async def models(
    _: Reader, edge: Edge, page: Page, session_id: str | None = None
) -> Listing[EdgeModel]:
    """Every model, oldest first (``X-Sort-Key: committed_at`` + ``desc``: the active one
    first); ``session_id`` keeps one session's global models."""
    found = edge.models.all()
    if session_id is not None:
        jobs = set(edge.sessions.job_ids(session_id))
        found = [m for m in found if m.session_id in jobs]
    return listing(found, page)


@both(router.post, "/models", response_model=EdgeModel, tags=["models"])
async def add_model(
    _: Writer,
    edge: Edge,
    file_token: Annotated[str, Form(max_length=64)],
    helper: Annotated[str, Form(max_length=50)] = HELPER,
) -> EdgeModel:
    """A seed model from a completed upload (a numpy ``.npz``): the new active model."""
    if helper != HELPER:
        raise InvalidRequest(f"helper {helper!r} is not available", hint="Upload a .npz model.")
    return edge.models.add_seed(Uploads(edge.core.state).take(file_token))


@router.get("/models/count", response_model=int, tags=["models"])
async def models_count(_: Reader, edge: Edge) -> int:
    """How many models."""
    return len(edge.models.all())


@router.get("/models/{model_id}", response_model=EdgeModel, tags=["models"])
async def model(model_id: str, _: Reader, edge: Edge) -> EdgeModel:
    """One model."""
    return edge.models.get(model_id)


@router.get("/models/{model_id}/ancestors", response_model=list[EdgeModel], tags=["models"])
async def ancestors(
    model_id: str,
    _: Reader,
    edge: Edge,
    include_self: bool = True,
    x_limit: Annotated[int | None, Header(ge=1)] = None,
    x_reverse: Annotated[bool, Header()] = True,
) -> list[EdgeModel]:
    """The model trail from ``model_id`` back to its root: newest first unless
    ``X-Reverse: false``."""
    trail = edge.models.ancestors(model_id, include_self)[:x_limit]
    return trail if x_reverse else trail[::-1]


@router.get("/models/{model_id}/download", response_class=BulkFileResponse, tags=["models"])
async def download(model_id: str, _: Reader, edge: Edge) -> BulkFileResponse:
    """The model's tensors as safetensors, streamed from the store."""
    return BulkFileResponse(
        edge.models.file(model_id),
        media_type="application/octet-stream",
        filename=f"{model_id}.safetensors",
    )


@router.get("/helpers/active", response_model=str, tags=["models"])
async def active_helper(_: Reader) -> str:
    """The helper models travel with: numpy arrays (safetensors on the wire)."""
    return HELPER


@router.put("/helpers/active", tags=["models"])
async def set_helper(_: Writer, body: dict[str, Any]) -> dict[str, Any]:
    """Set the helper: only ``numpyhelper`` is available."""
    if body.get("helper") != HELPER:
        raise InvalidRequest(
            f"helper {body.get('helper')!r} is not available", hint="Use 'numpyhelper'."
        )
    return {"success": True, "helper": HELPER}


@both(router.get, "/packages", response_model=Listing[Package], tags=["packages"])
async def packages(_: Reader, edge: Edge, page: Page) -> Listing[Package]:
    """Every compute package; the newest upload is active (else the built-in one)."""
    return listing(edge.packages.all(), page)


@both(router.post, "/packages", response_model=Package, tags=["packages"])
async def add_package(
    _: Writer,
    edge: Edge,
    file_token: Annotated[str, Form(max_length=64)],
    helper: Annotated[str, Form(max_length=50)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    file_name: Annotated[str, Form(max_length=255)] = "package.tgz",
) -> Package:
    """Store a package (a zip of a site app folder, see docs/edge.md) from a completed
    upload; it becomes the active one, and sessions started from now on run it. An invalid
    archive is refused (400 ``INVALID_JOB_DEFINITION``, ``UNSAFE_PATH``; 413
    ``JOB_TOO_LARGE``) and nothing is stored."""
    data = Uploads(edge.core.state).take(file_token)
    return edge.packages.add(data, file_name, helper, name, description)


@router.get("/packages/count", response_model=int, tags=["packages"])
async def packages_count(_: Reader, edge: Edge) -> int:
    """How many packages."""
    return len(edge.packages.all())


@router.get("/packages/active", response_model=Package, tags=["packages"])
async def active_package(_: Reader, edge: Edge) -> Package:
    """The active package."""
    return edge.packages.active()


@router.get("/packages/checksum", tags=["packages"])
async def package_checksum(_: Reader, edge: Edge) -> dict[str, str]:
    """The sha256 of the active package's archive (empty for the built-in one)."""
    return {"checksum": edge.packages.active().checksum}


@router.get("/packages/download", response_class=BulkFileResponse, tags=["packages"])
async def package_download(_: Reader, edge: Edge) -> BulkFileResponse:
    """The active package's archive."""
    pkg = edge.packages.active()
    return BulkFileResponse(edge.packages.file(pkg), filename=pkg.file_name)


@router.get("/packages/{package_id}", response_model=Package, tags=["packages"])
async def package(package_id: str, _: Reader, edge: Edge) -> Package:
    """One package."""
    return edge.packages.get(package_id)


@router.post("/file-upload/init", tags=["uploads"])
async def upload_init(req: UploadInit, _: Writer, edge: Edge) -> dict[str, str]:
    """Open a chunked upload."""
    return {"upload_id": Uploads(edge.core.state).init(req)}


@router.post("/file-upload/{upload_id}/chunk", tags=["uploads"])
async def upload_chunk(
    upload_id: str,
    request: Request,
    _: Writer,
    edge: Edge,
    x_chunk_index: Annotated[int, Header(ge=0, le=1_000_000)],
) -> dict[str, Any]:
    """Store one chunk (raw bytes; ``X-Chunk-Index`` orders them)."""
    await Uploads(edge.core.state).chunk(upload_id, x_chunk_index, request.stream())
    return {"upload_id": upload_id, "chunk_index": x_chunk_index}


@router.post("/file-upload/{upload_id}/complete", tags=["uploads"])
async def upload_complete(upload_id: str, _: Writer, edge: Edge) -> dict[str, str]:
    """Join the chunks; the file token."""
    return {"file_token": Uploads(edge.core.state).complete(upload_id)}


@router.post("/file-upload/{upload_id}/abort", tags=["uploads"])
async def upload_abort(upload_id: str, _: Writer, edge: Edge) -> dict[str, bool]:
    """Drop an upload."""
    Uploads(edge.core.state).abort(upload_id)
    return {"success": True}
