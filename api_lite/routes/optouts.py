"""The suppression list (opt-outs) per tenant: canal + destino, normalized (E.164 / lower-case e-mail)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import ConfigDict

from api_lite.contract import Body, Canal, Curto, Destino, Offset, limit
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import optouts

router = APIRouter(prefix="/optouts", tags=["optouts"])


class OptoutIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"example": {"canal": "whatsapp", "destino": "(11) 98765-4321", "motivo": "pediu"}},
    )
    canal: Canal
    destino: Destino
    motivo: Curto | None = None


class OptoutKey(Body):
    canal: Canal
    destino: Destino


@router.post("", status_code=201, responses={200: {"description": "já estava na lista"}})
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
def remove_optout_path(canal: Canal, destino: Destino, tenant: TenantDep, conn: ConnDep) -> Response:
    """Same as DELETE /optouts with a body (URL-encode the '+' of a phone as %2B)."""
    optouts.remove_optout(conn, tenant.id, canal, destino)
    return Response(status_code=204)


@router.get("")
def list_optouts(
    tenant: TenantDep,
    conn: ConnDep,
    canal: Canal | None = None,
    limit: int = limit(100, 1000),
    offset: Offset = 0,
) -> dict[str, Any]:
    return optouts.list_optouts(conn, tenant.id, canal=canal, limit=limit, offset=offset)
