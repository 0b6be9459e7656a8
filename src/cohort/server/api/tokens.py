"""Admin routes for the REST API's Bearer keys (``/admin/v1/tokens``): policy action
``token.manage`` (a key carries a role, so minting one is a project_admin's act)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cohort.schemas.records import ApiTokenRecord
from cohort.schemas.tokens import CreateTokenReply, CreateTokenRequest
from cohort.server.api.deps import Services, services
from cohort.server.api.guard import TokenManager

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1/tokens", tags=["admin"])
Svc = Annotated[Services, Depends(services)]


@router.post("", response_model=CreateTokenReply, status_code=201)
async def create_token(req: CreateTokenRequest, who: TokenManager, svc: Svc) -> CreateTokenReply:
    """Create a key; the reply carries it once."""
    return svc.tokens.create(who.name, req)


@router.get("", response_model=list[ApiTokenRecord])
async def list_tokens(_: TokenManager, svc: Svc) -> list[ApiTokenRecord]:
    """Every key's record (never the keys)."""
    return svc.tokens.list()


@router.delete("/{token_id}", response_model=ApiTokenRecord)
async def revoke_token(token_id: str, _: TokenManager, svc: Svc) -> ApiTokenRecord:
    """Revoke a key at once."""
    return svc.tokens.revoke(token_id)
