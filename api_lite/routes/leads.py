"""Lead queries: the seed's `GET /leads` page and `GET /leads/{lead_id}` with phones and e-mails."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api_lite.deps import ConnDep, TenantDep
from pipelines.core.leads.records import LEAD_STATUSES, get_lead, list_leads

router = APIRouter(prefix="/leads", tags=["leads"])


@router.get("", summary="Lista os leads do tenant (filtro por status, paginado)")
def leads_page(
    tenant: TenantDep,
    conn: ConnDep,
    status: str | None = Query(None, description=f"um de: {', '.join(LEAD_STATUSES)}"),
    limit: int = Query(50, description="1 a 500"),
    offset: int = Query(0, description=">= 0"),
) -> dict[str, Any]:
    # Bounds are checked by pipelines.core.leads.records so the CLI and the API give the same message.
    return list_leads(conn, tenant.id, status=status, limit=limit, offset=offset)


@router.get("/{lead_id}", summary="Um lead com seus telefones e e-mails")
def lead_detail(lead_id: str, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return get_lead(conn, tenant.id, lead_id)
