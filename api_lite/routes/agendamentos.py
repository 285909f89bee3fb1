"""Agendamentos: `POST /leads/{lead_id}/agendamentos` (seed 6), list/get, realizado/cancelar/reagendar,
the feed URL and the iCalendar feed (`GET /agendamentos.ics?token=…`, no API key: the token is derived).

After a change the calendar event (MCP_CALENDAR_ENDPOINT) is synced right after the response
(BackgroundTasks); if that fails, the reminder sweep retries it."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from psycopg_pool import ConnectionPool
from pydantic import ConfigDict, Field

from api_lite.contract import (
    AgendamentoStatus,
    Body,
    Booleano,
    DataHora,
    DataOuDataHora,
    IdempotencyKey,
    LembreteMinutos,
    Motivo,
    Observacoes,
    Offset,
    Responsavel,
    iso,
    limit,
)
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.agenda import agendamentos as ag
from pipelines.core.agenda import ics
from pipelines.core.common.idempotency import request_digest, run_idempotent
from pipelines.core.common.settings import Settings

log = logging.getLogger("api_lite.agendamentos")
router = APIRouter(tags=["agendamentos"])


class AgendamentoIn(Body):
    """The seed's body plus optional responsavel, lembrete_minutos, lembrete_lead and forcar."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "tipo": "callback",
                "canal": "telefone",
                "data_agendada": "2025-11-27T14:00:00Z",
                "observacoes": "Cliente prefere contato à tarde.",
            }
        },
    )
    tipo: Literal["callback", "reuniao"]
    canal: Literal["telefone", "whatsapp", "video"]
    data_agendada: DataHora = Field(description="ISO-8601; sem offset é lido no fuso do tenant; no futuro")
    observacoes: Observacoes | None = None
    responsavel: Responsavel | None = Field(
        None, description="quem da equipe deve agir: e-mail ou telefone (E.164)"
    )
    lembrete_minutos: LembreteMinutos | None = Field(
        None, description="minutos antes; padrão: tenants.lembrete_minutos_padrao"
    )
    lembrete_lead: Booleano = Field(False, description="o lead consentiu em receber lembrete (só reuniao)")
    forcar: Booleano = Field(False, description="ignora o conflito de horário do responsável")


class CancelarIn(Body):
    motivo: Motivo


class ReagendarIn(Body):
    data_agendada: DataHora = Field(description="novo horário, no futuro")
    lembrete_minutos: LembreteMinutos | None = None
    forcar: Booleano = False


def _sync_calendar_now(pool: ConnectionPool, tenant_id: UUID, agendamento_id: UUID) -> None:
    """Runs after the response; on failure the row stays pending/erro for the sweep."""
    try:
        from pipelines.core.agenda.calendar_sync import sync_calendar

        settings = Settings.from_env()
        with pool.connection() as conn:
            sync_calendar(
                conn, settings, tenant_id=tenant_id, agendamento_ids=[UUID(agendamento_id)], timeout=5.0
            )
    except Exception as exc:
        log.warning("sincronização do calendário falhou (%s); fica para a varredura", type(exc).__name__)


def _after_change(
    request: Request, background: BackgroundTasks, tenant_id: UUID, doc: dict[str, Any]
) -> None:
    if Settings.from_env().mcp_calendar_endpoint:
        background.add_task(_sync_calendar_now, request.app.state.pool, tenant_id, doc["agendamento_id"])


@router.post(
    "/leads/{lead_id}/agendamentos",
    status_code=201,
    summary="Cria um agendamento (callback ou reunião)",
    responses={200: {"description": "Idempotency-Key repetida: o primeiro resultado"}},
)
def create_agendamento(
    lead_id: UUID,
    body: AgendamentoIn,
    tenant: TenantDep,
    conn: ConnDep,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """201 with the seed's fields (agendamento_id, status, data_agendada) and the rest of the agendamento.
    409 when the responsável already has a pending agendamento within the slot (unless forcar).
    Same Idempotency-Key + same body: the first result (200); different body: 409."""
    fields = {**body.model_dump(), "data_agendada": iso(body.data_agendada)}
    doc, created = run_idempotent(
        conn,
        tenant.id,
        idempotency_key,
        request_digest(f"agendamento:{lead_id}", body.model_dump(mode="json")),
        lambda: ag.create_agendamento(conn, tenant, lead_id, **fields),
    )
    if created:
        _after_change(request, background, tenant.id, doc)
    else:
        response.status_code = 200
    return doc


@router.get("/agendamentos", summary="Lista agendamentos (período, status, lead, responsável; paginado)")
def list_agendamentos(
    tenant: TenantDep,
    conn: ConnDep,
    de: Annotated[DataOuDataHora | None, Query(description="ISO-8601 ou data (inclusive)")] = None,
    ate: Annotated[
        DataOuDataHora | None, Query(description="ISO-8601 (exclusive) ou data (o dia inteiro)")
    ] = None,
    status: AgendamentoStatus | None = None,
    lead_id: UUID | None = None,
    responsavel: Responsavel | None = None,
    limit: int = limit(50, 500),
    offset: Offset = 0,
) -> dict[str, Any]:
    return ag.list_agendamentos(
        conn,
        tenant,
        de=de,
        ate=ate,
        status=status,
        lead_id=lead_id,
        responsavel=responsavel,
        limit=limit,
        offset=offset,
    )


@router.get("/agendamentos/feed-url", summary="URL do feed iCalendar (para assinar num app de calendário)")
def feed_url(
    tenant: TenantDep, conn: ConnDep, request: Request, responsavel: Responsavel | None = None
) -> dict[str, Any]:
    return ics.feed_url(conn, tenant, str(request.base_url), responsavel)


@router.post(
    "/agendamentos/feed-url/rotate",
    summary="Revoga todos os links .ics do tenant e devolve um novo (o antigo passa a 404)",
)
def rotate_feed_url(tenant: TenantDep, conn: ConnDep, request: Request) -> dict[str, Any]:
    """Every feed URL of the tenant (and of its responsáveis) stops working; the answer carries the new
    tenant feed URL (`versao` is the new token version)."""
    with conn.transaction():
        versao = ics.rotate_feed_tokens(conn, tenant.id)
        doc = ics.feed_url(conn, tenant, str(request.base_url))
    return {**doc, "versao": versao}


@router.get(
    "/agendamentos.ics",
    summary="Feed iCalendar do tenant (ou de um responsável); autenticado pelo token do feed, não pela chave",
    response_class=Response,
)
def ics_feed(
    conn: ConnDep,
    token: Annotated[str | None, Query(max_length=500, description="o token da URL do feed")] = None,
    responsavel: Responsavel | None = None,
) -> Response:
    tenant = ics.verify_token(conn, token, responsavel)
    body = ics.build_feed(conn, tenant, responsavel)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=60",
            "Content-Disposition": 'inline; filename="agendamentos.ics"',
        },
    )


@router.get("/agendamentos/{agendamento_id}", summary="Um agendamento com seus lembretes")
def get_agendamento(agendamento_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return ag.get_agendamento(conn, tenant, agendamento_id)


@router.post("/agendamentos/{agendamento_id}/realizado", summary="Marca como realizado (só pendente)")
def realizado(agendamento_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return ag.mark_realizado(conn, tenant, agendamento_id)


@router.post("/agendamentos/{agendamento_id}/cancelar", summary="Cancela (só pendente; motivo obrigatório)")
def cancelar(
    agendamento_id: UUID,
    tenant: TenantDep,
    conn: ConnDep,
    request: Request,
    background: BackgroundTasks,
    body: CancelarIn,
) -> dict[str, Any]:
    doc = ag.cancel_agendamento(conn, tenant, agendamento_id, body.motivo)
    _after_change(request, background, tenant.id, doc)
    return doc


@router.post("/agendamentos/{agendamento_id}/reagendar", summary="Muda o horário (só pendente; versao + 1)")
def reagendar(
    agendamento_id: UUID,
    tenant: TenantDep,
    conn: ConnDep,
    request: Request,
    background: BackgroundTasks,
    body: ReagendarIn,
) -> dict[str, Any]:
    doc = ag.reschedule_agendamento(
        conn,
        tenant,
        agendamento_id,
        iso(body.data_agendada),
        forcar=body.forcar,
        lembrete_minutos=body.lembrete_minutos,
    )
    _after_change(request, background, tenant.id, doc)
    return doc
