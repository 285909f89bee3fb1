"""The suppression list (opt-outs) per tenant: canal + destino, normalized (E.164 / lower-case e-mail)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import optouts

router = APIRouter(prefix="/optouts", tags=["optouts"])


class OptoutIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"canal": "whatsapp", "destino": "(11) 98765-4321", "motivo": "pediu"}},
    )
    canal: str
    destino: str
    motivo: str | None = None


class OptoutKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    canal: str
    destino: str


@router.post("", status_code=201)
def add_optout(body: OptoutIn, tenant: TenantDep, conn: ConnDep, response: Response) -> dict[str, Any]:
    """201 when added, 200 when it was already there (idempotent)."""
    row, created = optouts.add_optout(conn, tenant.id, body.canal, body.destino, body.motivo)
    if not created:
        response.status_code = 200
    return row


@router.delete("", status_code=204)
def remove_optout(body: OptoutKey, tenant: TenantDep, conn: ConnDep) -> Response:
    optouts.remove_optout(conn, tenant.id, body.canal, body.destino)
    return Response(status_code=204)


@router.delete("/{canal}/{destino}", status_code=204)
def remove_optout_path(canal: str, destino: str, tenant: TenantDep, conn: ConnDep) -> Response:
    """Same as DELETE /optouts with a body (URL-encode the '+' of a phone as %2B)."""
    optouts.remove_optout(conn, tenant.id, canal, destino)
    return Response(status_code=204)


@router.get("")
def list_optouts(
    tenant: TenantDep, conn: ConnDep, canal: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    return optouts.list_optouts(conn, tenant.id, canal=canal, limit=limit, offset=offset)
