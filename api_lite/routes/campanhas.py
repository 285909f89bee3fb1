"""Campaigns: a template sent to every lead matching a filter, created in one set-based statement."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, Field

from api_lite.contract import (
    MAX_ESPALHAR,
    Body,
    Booleano,
    Canal,
    DataHora,
    Inteiro,
    LeadStatus,
    Nome,
    NomeTemplate,
    Offset,
    Variaveis,
    iso,
    limit,
)
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import campanhas

router = APIRouter(prefix="/campanhas", tags=["campanhas"])


class FiltroCampanha(Body):
    """Quais leads recebem: todos os critérios informados valem juntos (E)."""

    status: LeadStatus | Annotated[list[LeadStatus], Field(min_length=1)] | None = Field(
        None, description="um status ou uma lista deles"
    )
    ingest_job_id: UUID | None = Field(None, description="só os leads desta ingestão")
    origem_arquivo: Nome | None = Field(None, description="só os leads deste arquivo")
    tags: Nome | Annotated[list[Nome], Field(max_length=50)] | None = Field(
        None, description="leads com todas estas tags"
    )
    com_celular: Booleano | None = None
    com_email: Booleano | None = None


class CampanhaIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "nome": "cobranca novembro",
                "canal": "whatsapp",
                "template": "cobranca_padrao_1",
                "variaveis": {"valor_aberto": "R$ 1.250,00"},
                "filtro": {"status": ["novo"], "tags": ["vip"], "com_celular": True},
                "inicio": "2025-11-27T09:00:00",
                "espalhar_minutos": 120,
            },
            # espalhar_minutos and taxa_por_minuto are alternatives
            "not": {"required": ["espalhar_minutos", "taxa_por_minuto"]},
        },
    )
    nome: Nome | None = Field(None, description="padrão: o nome do template")
    canal: Canal
    template: NomeTemplate
    variaveis: Variaveis | None = None
    filtro: FiltroCampanha | None = None
    inicio: DataHora | None = Field(None, description="ISO-8601; sem offset: fuso do tenant; padrão: agora")
    espalhar_minutos: Inteiro | None = Field(None, ge=0, le=MAX_ESPALHAR, description="espalha os envios")
    taxa_por_minuto: Inteiro | None = Field(None, ge=1, le=100_000, description="ou: envios por minuto")


@router.post("", status_code=201)
def create_campanha(body: CampanhaIn, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """Returns the campaign with `criados` and the exclusion counts (sem_destino, optout,
    variavel_ausente, ja_em_disparo_ativo). Scheduled disparos are sent by the engine when due."""
    doc = body.model_dump(exclude_unset=True, mode="json")
    if body.inicio is not None:
        doc["inicio"] = iso(body.inicio)
    return campanhas.create_campanha(conn, tenant, doc)


@router.get("")
def list_campanhas(
    tenant: TenantDep, conn: ConnDep, limit: int = limit(50, 500), offset: Offset = 0
) -> dict[str, Any]:
    return campanhas.list_campanhas(conn, tenant.id, limit=limit, offset=offset)


@router.get("/{campanha_id}")
def get_campanha(campanha_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """The campaign with its disparos counted by status."""
    return campanhas.get_campanha(conn, tenant.id, campanha_id)


@router.post("/{campanha_id}/aplicar")
def aplicar_campanha(campanha_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """Re-apply the filter: leads matching now and not in an active disparo of the campaign get one."""
    return campanhas.aplicar_campanha(conn, tenant, campanha_id)


@router.post("/{campanha_id}/cancelar")
def cancelar_campanha(campanha_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return campanhas.cancelar_campanha(conn, tenant, campanha_id)


@router.get(
    "/{campanha_id}/disparos.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "CSV, um disparo por linha",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def export_csv(campanha_id: UUID, tenant: TenantDep, request: Request) -> StreamingResponse:
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
