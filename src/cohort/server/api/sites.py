"""Admin API (``/admin/v1/sites``): enable and disable a site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cohort.schemas.records import SiteRecord
from cohort.server.api.deps import Services, services
from cohort.server.api.guard import SiteOperator
from cohort.server.policy import Action, authorize

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1/sites", tags=["sites"])
Svc = Annotated[Services, Depends(services)]


def _set(svc: Services, who: SiteOperator, site: str, enabled: bool) -> SiteRecord:
    record = svc.state.store.get_site(site)  # SITE_NOT_FOUND for a site never seen
    authorize(who, Action.OPERATE_SITE, orgs={record.org})
    return svc.state.store.set_site_enabled(site, enabled)


@router.post("/{site}/disable", response_model=SiteRecord)
async def disable_site(site: str, who: SiteOperator, svc: Svc) -> SiteRecord:
    """Disable a site: its certificate is refused on the fleet API until it is enabled."""
    return _set(svc, who, site, False)


@router.post("/{site}/enable", response_model=SiteRecord)
async def enable_site(site: str, who: SiteOperator, svc: Svc) -> SiteRecord:
    """Enable a disabled site again."""
    return _set(svc, who, site, True)
