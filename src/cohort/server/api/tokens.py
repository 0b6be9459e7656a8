"""Admin routes for the REST API's Bearer keys (``/admin/v1/tokens``): mTLS admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cohort.schemas.records import ApiTokenRecord
from cohort.schemas.tokens import CreateTokenReply, CreateTokenRequest
from cohort.server.api.auth import admin_identity
from cohort.server.api.deps import Services, services
from cohort.tls import Identity

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1/tokens", tags=["admin"])
Admin = Annotated[Identity, Depends(admin_identity)]
Svc = Annotated[Services, Depends(services)]


@router.post("", response_model=CreateTokenReply, status_code=201)
async def create_token(req: CreateTokenRequest, who: Admin, svc: Svc) -> CreateTokenReply:
    """Create a key; the reply carries it once."""
    return svc.tokens.create(who.name, req)


@router.get("", response_model=list[ApiTokenRecord])
async def list_tokens(_: Admin, svc: Svc) -> list[ApiTokenRecord]:
    """Every key's record (never the keys)."""
    return svc.tokens.list()


@router.delete("/{token_id}", response_model=ApiTokenRecord)
async def revoke_token(token_id: str, _: Admin, svc: Svc) -> ApiTokenRecord:
    """Revoke a key at once."""
    return svc.tokens.revoke(token_id)
