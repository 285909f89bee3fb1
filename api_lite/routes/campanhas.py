"""Campaigns: a template sent to every lead matching a filter, created in one set-based statement."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import campanhas

router = APIRouter(prefix="/campanhas", tags=["campanhas"])


class CampanhaIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "nome": "cobranca novembro",
                "canal": "whatsapp",
                "template": "cobranca_padrao_1",
                "variaveis": {"valor_aberto": "R$ 1.250,00"},
                "filtro": {"status": ["novo"], "tags": ["vip"], "com_celular": True},
                "inicio": "2025-11-27T09:00:00",
                "espalhar_minutos": 120,
            }
        },
    )
    nome: str | None = None
    canal: str
    template: str
    variaveis: dict[str, Any] | None = None
    filtro: dict[str, Any] | None = None
    inicio: str | None = None
    espalhar_minutos: int | None = None
    taxa_por_minuto: int | None = None


@router.post("", status_code=201)
def create_campanha(body: CampanhaIn, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """Returns the campaign with `criados` and the exclusion counts (sem_destino, optout,
    variavel_ausente, ja_em_disparo_ativo). Scheduled disparos are sent by the engine when due."""
    return campanhas.create_campanha(conn, tenant, body.model_dump(exclude_unset=True))


@router.get("")
def list_campanhas(tenant: TenantDep, conn: ConnDep, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    return campanhas.list_campanhas(conn, tenant.id, limit=limit, offset=offset)


@router.get("/{campanha_id}")
def get_campanha(campanha_id: str, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """The campaign with its disparos counted by status."""
    return campanhas.get_campanha(conn, tenant.id, campanha_id)


@router.post("/{campanha_id}/aplicar")
def aplicar_campanha(campanha_id: str, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """Re-apply the filter: leads matching now and not in an active disparo of the campaign get one."""
    return campanhas.aplicar_campanha(conn, tenant, campanha_id)


@router.post("/{campanha_id}/cancelar")
def cancelar_campanha(campanha_id: str, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return campanhas.cancelar_campanha(conn, tenant, campanha_id)


@router.get("/{campanha_id}/disparos.csv")
def export_csv(campanha_id: str, tenant: TenantDep, request: Request) -> StreamingResponse:
    """Per-lead results, streamed (COPY TO STDOUT) on a connection held for the whole response."""
    pool = request.app.state.pool
    conn = pool.getconn()
    try:
        chunks = campanhas.export_csv(conn, tenant.id, campanha_id)
    except Exception:
        pool.putconn(conn)
        raise

    def _stream():
        try:
            yield from chunks
        finally:
            pool.putconn(conn)

    return StreamingResponse(
        _stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campanha-{campanha_id}.csv"'},
    )
