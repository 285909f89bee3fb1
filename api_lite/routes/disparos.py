"""Single disparos: `POST /leads/{lead_id}/disparos` (seed 6), list, get, cancel.

An immediate disparo (agendar_para null or past) is handed, once committed, to a small sender on
app.state: one background thread that drains a queue and calls pipelines.core.send.engine.send_due with the
ids waiting (so a burst of requests becomes a few batched drains through the engine's claim path, with
bounded threads and connections). The Dagster sensor remains the safety net if this process dies first."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api_lite.contract import (
    Body,
    Canal,
    DataHora,
    DisparoStatus,
    IdempotencyKey,
    NomeTemplate,
    Offset,
    Variaveis,
    iso,
    limit,
)
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.common.settings import Settings
from pipelines.core.disparos import single as disparos

log = logging.getLogger("api_lite.disparos")
router = APIRouter(tags=["disparos"])
IMMEDIATE_BUDGET_S = 10.0
IMMEDIATE_BATCH = 500
_state_lock = threading.Lock()


class DisparoPayload(Body):
    variaveis: Variaveis | None = None


class DisparoIn(Body):
    """The seed's body. telefone_id (whatsapp) / email_id (email) omitted: the lead's principal valid one.
    `template`: a template of this tenant (POST /templates) or, when none has that name, the provider's
    approved template id, sent to MCP as `templateId` with the `variaveis`."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "canal": "whatsapp",
                "telefone_id": "uuid",
                "template": "cobranca_padrao_1",
                "payload": {"variaveis": {"nome": "João", "valor_aberto": "R$ 1.250,00"}},
                "agendar_para": "2025-11-27T09:00:00Z",
            },
            # a phone for whatsapp, an e-mail for email
            "not": {
                "anyOf": [
                    {"properties": {"canal": {"const": "whatsapp"}}, "required": ["canal", "email_id"]},
                    {"properties": {"canal": {"const": "email"}}, "required": ["canal", "telefone_id"]},
                ]
            },
        },
    )
    canal: Canal
    telefone_id: UUID | None = None
    email_id: UUID | None = None
    template: NomeTemplate
    payload: DisparoPayload | None = None
    agendar_para: DataHora | None = Field(None, description="ISO-8601; sem offset: fuso do tenant; nulo: já")


class DisparoOut(BaseModel):
    disparo_id: str
    status: str
    data_agendado: str


def send_now(dsn: str, disparo_ids: list[str]) -> None:
    """Failures are logged; the disparos stay pendente for the sensor / `send --once`."""
    try:
        from pipelines.core.send.engine import send_due

        send_due(dsn, disparo_ids=disparo_ids, time_budget_s=IMMEDIATE_BUDGET_S)
    except Exception as exc:
        log.warning("envio imediato falhou (%s); o disparo fica pendente para o sensor", type(exc).__name__)


class ImmediateSender:
    """One daemon thread per app draining a queue of disparo ids into batched send_due calls."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="envio-imediato", daemon=True)
        self.thread.start()

    def submit(self, disparo_id: str) -> None:
        self.queue.put(disparo_id)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=IMMEDIATE_BUDGET_S)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < IMMEDIATE_BATCH:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            send_now(self.dsn, batch)
            if stop:
                return


def immediate_sender(app: FastAPI) -> ImmediateSender:
    with _state_lock:
        sender = getattr(app.state, "immediate_sender", None)
        if sender is None:
            sender = ImmediateSender(app.state.pool.conninfo)
            app.state.immediate_sender = sender
            app.state.shutdown_hooks.append(sender.stop)
    return sender


@router.post(
    "/leads/{lead_id}/disparos",
    status_code=201,
    response_model=DisparoOut,
    responses={200: {"model": DisparoOut, "description": "Idempotency-Key repetida: o primeiro resultado"}},
)
def create_disparo(
    lead_id: UUID,
    body: DisparoIn,
    tenant: TenantDep,
    conn: ConnDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Create (and, when due, send at once) one disparo. Same Idempotency-Key + same body: the first
    result (200); different body: 409."""
    doc = body.model_dump(exclude_unset=True, mode="json")
    if body.agendar_para is not None:
        doc["agendar_para"] = iso(body.agendar_para)
    result, created = disparos.create_disparo(
        conn,
        tenant,
        lead_id,
        doc,
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = 200
    if result.get("imediato") and result["status"] == "pendente":
        immediate_sender(request.app).submit(result["disparo_id"])  # already committed
    if aviso := disparos.delivery_warning(Settings.from_env(), body.canal):
        response.headers[disparos.WARNING_HEADER] = disparos.header_safe(aviso)  # nothing will be sent
    return {k: result[k] for k in ("disparo_id", "status", "data_agendado")}


@router.get("/leads/{lead_id}/disparos")
def list_lead_disparos(
    lead_id: UUID,
    tenant: TenantDep,
    conn: ConnDep,
    status: DisparoStatus | None = None,
    limit: int = limit(50, 500),
    offset: Offset = 0,
) -> dict[str, Any]:
    return disparos.list_lead_disparos(conn, tenant.id, lead_id, status=status, limit=limit, offset=offset)


@router.get("/disparos/{disparo_id}")
def get_disparo(disparo_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return disparos.get_disparo(conn, tenant.id, disparo_id)


@router.post("/disparos/{disparo_id}/cancelar")
def cancel_disparo(disparo_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """Only while pendente; otherwise 409."""
    return disparos.cancel_disparo(conn, tenant.id, disparo_id)
