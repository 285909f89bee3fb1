"""Reports served from the DuckDB mart (built by the Dagster assets in assets/mart.py): the delivery
funnel of the caller's tenant, as JSON, CSV or Parquet."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api_lite.contract import Dia
from api_lite.deps import ConnDep, TenantDep
from api_lite.problems import PROBLEM
from pipelines.core.common.settings import Settings
from pipelines.core.reports import funil
from pipelines.core.reports.mart import Mart

router = APIRouter(prefix="/relatorios", tags=["relatorios"])

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
    },
}
_PROBLEM_CONTENT = {PROBLEM: {"schema": _PROBLEM_SCHEMA}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Chave de API ausente, inválida ou revogada.", "content": _PROBLEM_CONTENT},
    404: {"description": "Campanha inexistente ou de outro tenant.", "content": _PROBLEM_CONTENT},
    422: {"description": "Parâmetros inválidos; `field` diz qual.", "content": _PROBLEM_CONTENT},
}
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


class FunilParams(BaseModel):
    """Filtro do funil: dias (no fuso do tenant) de `de` a `ate`, no máximo 366; padrão: os 30 dias até
    hoje."""

    model_config = ConfigDict(extra="forbid")
    de: Dia | None = Field(None, description="primeiro dia (AAAA-MM-DD)", examples=["2025-11-01"])
    ate: Dia | None = Field(None, description="último dia (AAAA-MM-DD), inclusive", examples=["2025-11-30"])
    canal: Literal["whatsapp", "email"] | None = Field(None, description="só este canal")
    campanha_id: UUID | None = Field(None, description="só esta campanha")
    formato: Literal["json", "csv", "parquet"] = Field("json", description="formato da resposta")


class FunilLinha(BaseModel):
    dia: date
    canal: str
    campanha_id: UUID | None = Field(description="vazio: disparos avulsos")
    criados: int
    pendentes: int
    enviados: int
    confirmados: int
    erro: int
    bloqueado: int
    cancelado: int
    dlq: int
    taxa_falha: float | None = Field(description="erro / (enviado + confirmado + erro)")
    tempo_ate_envio_p50_s: float | None
    tempo_ate_envio_p95_s: float | None


class FunilDoc(BaseModel):
    de: date
    ate: date
    canal: str | None
    campanha_id: UUID | None
    linhas: list[FunilLinha]


@router.get(
    "/funil",
    summary="Funil de entrega por dia × canal × campanha (do mart DuckDB)",
    response_model=FunilDoc,
    responses={
        **_ERRORS,
        200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}},
    },
)
def funil_report(params: Annotated[FunilParams, Query()], tenant: TenantDep, conn: ConnDep) -> Any:
    """Disparos criados em cada dia, onde estão agora (na última construção do dia pelo mart): criados,
    pendentes, enviados, confirmados, erro, bloqueado, cancelado, dlq, taxa de falha e tempo até envio."""
    f = funil.filtro(
        params.de, params.ate, params.canal, params.campanha_id, hoje=datetime.now(tenant.tz).date()
    )
    funil.ensure_campanha(conn, tenant.id, f.campanha_id)
    table = funil.read(Mart.under(Settings.from_env().home), tenant.id, f)
    if params.formato == "csv":
        return Response(
            funil.to_csv(table),
            media_type=_MEDIA["csv"],
            headers={"Content-Disposition": f'attachment; filename="funil-{f.de}-{f.ate}.csv"'},
        )
    if params.formato == "parquet":
        return Response(
            funil.to_parquet(table),
            media_type=_MEDIA["parquet"],
            headers={"Content-Disposition": f'attachment; filename="funil-{f.de}-{f.ate}.parquet"'},
        )
    # the rows are typed by the mart already: skip re-validating them against FunilDoc
    return JSONResponse(funil.document(table, f))
