"""Lead queries: the seed's `GET /leads` page and `GET /leads/{lead_id}` with phones and e-mails, and
`PATCH /leads/{lead_id}` to record a person's outcome (convertido / descartado)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter

from api_lite.contract import Body, LeadStatus, Offset, limit
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.leads.records import get_lead, list_leads, set_lead_status

router = APIRouter(prefix="/leads", tags=["leads"])


class LeadPatch(Body):
    """convertido / descartado: o desfecho do lead; novo: reabre. em_disparo e agendado vêm dos
    disparos e agendamentos, não se definem à mão."""

    status: Literal["novo", "convertido", "descartado"]


@router.get("", summary="Lista os leads do tenant (filtro por status, paginado)")
def leads_page(
    tenant: TenantDep,
    conn: ConnDep,
    status: LeadStatus | None = None,
    limit: int = limit(50, 500),
    offset: Offset = 0,
) -> dict[str, Any]:
    return list_leads(conn, tenant.id, status=status, limit=limit, offset=offset)


@router.get("/{lead_id}", summary="Um lead com seus telefones e e-mails")
def lead_detail(lead_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return get_lead(conn, tenant.id, lead_id)


@router.patch("/{lead_id}", summary="Registra o desfecho do lead (status convertido ou descartado)")
def lead_patch(lead_id: UUID, body: LeadPatch, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """The lead document after the change."""
    return set_lead_status(conn, tenant.id, lead_id, body.status)
