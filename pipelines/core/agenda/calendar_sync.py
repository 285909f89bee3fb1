"""Calendar events of agendamentos through an MCP calendar server (MCP_CALENDAR_ENDPOINT).

Contract, in the style of the seed's section 5 (each call carries ``Idempotency-Key:
<agendamento_id>:<versao>:<op>`` and the MCP bearer token when set):

- ``POST   {endpoint}/mcp/calendar/events`` ``{title, description, start, end, attendees?, location?}``
  -> ``{eventId, status}``
- ``PATCH  {endpoint}/mcp/calendar/events/{eventId}`` (same fields) -> ``{eventId, status}``
- ``DELETE {endpoint}/mcp/calendar/events/{eventId}`` -> ``{eventId, status: "cancelled"}``

The agendamento is the source of truth; the calendar is a projection. Every change marks the row
``calendar_status = 'pendente'``; `sync_calendar` reconciles (create when pending without an event,
update when ``versao`` moved, delete when cancelled). A failure never touches the agendamento itself: the
error goes to ``calendar_erro`` with ``calendar_status = 'erro'`` and the row is retried with backoff
(2 s doubling, capped at 5 min, up to 10 attempts) by the reminder sweep. Rows are claimed with a short
lease so two syncers never work on the same agendamento at once.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import psycopg

from pipelines.core.agenda.model import (
    CANAL_LABEL,
    DEFAULT_SLOT_MINUTES,
    SLOT_ENV,
    TIPO_LABEL,
    format_local,
)
from pipelines.core.common.convert import iso_utc
from pipelines.core.common.settings import Settings
from pipelines.core.send.mcp import parse_retry_after

log = logging.getLogger(__name__)

EVENTS_PATH = "/mcp/calendar/events"
LEASE_SECONDS = 60
MAX_TENTATIVAS = 10
BACKOFF_CAP_S = 300.0


class CalendarError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class CalendarClient:
    """Small sync client (calendar traffic is a few calls per agendamento, not a hot path)."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        if not settings.mcp_calendar_endpoint:
            raise ValueError("MCP_CALENDAR_ENDPOINT não configurado")
        headers = {"User-Agent": "agente-disparo-agenda/0.1"}
        if settings.mcp_token:
            headers["Authorization"] = f"Bearer {settings.mcp_token}"
        self.base = settings.mcp_calendar_endpoint.rstrip("/") + EVENTS_PATH
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))
        )

    def __enter__(self) -> CalendarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _call(self, method: str, url: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self._client.request(method, url, json=body, headers={"Idempotency-Key": key})
        except httpx.TimeoutException:
            raise CalendarError("timeout no MCP de calendário") from None
        except httpx.TransportError as exc:
            raise CalendarError(f"erro de conexão com o MCP de calendário: {type(exc).__name__}") from None
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400:
            detail = data.get("error") or data.get("detail") if isinstance(data, dict) else None
            raise CalendarError(
                f"HTTP {resp.status_code} do MCP de calendário"
                + (f": {str(detail)[:200]}" if detail else ""),
                status=resp.status_code,
                retry_after=parse_retry_after(resp.headers.get("retry-after")),
            )
        return data if isinstance(data, dict) else {}

    def create(self, event: dict[str, Any], key: str) -> str:
        data = self._call("POST", self.base, key, event)
        if not data.get("eventId"):
            raise CalendarError("resposta do MCP de calendário sem eventId")
        return str(data["eventId"])

    def update(self, event_id: str, event: dict[str, Any], key: str) -> None:
        self._call("PATCH", f"{self.base}/{event_id}", key, event)

    def delete(self, event_id: str, key: str) -> None:
        self._call("DELETE", f"{self.base}/{event_id}", key)


def _slot(row: dict[str, Any]) -> int:
    if row.get("agendamento_slot_minutos"):
        return int(row["agendamento_slot_minutos"])
    try:
        return int(os.environ.get(SLOT_ENV) or DEFAULT_SLOT_MINUTES)
    except ValueError:
        return DEFAULT_SLOT_MINUTES


def event_body(row: dict[str, Any]) -> dict[str, Any]:
    """The calendar event of an agendamento row (times in UTC; the description shows local time)."""
    tz = ZoneInfo(row["timezone"])
    start = row["data_agendada"]
    lines = [
        f"{TIPO_LABEL[row['tipo']]} por {CANAL_LABEL[row['canal']]} em {format_local(start, tz)}.",
        f"Lead: {row['lead_nome']}" + (f" ({row['contato_nome']})" if row.get("contato_nome") else ""),
    ]
    if row.get("responsavel"):
        lines.append(f"Responsável: {row['responsavel']}")
    if row.get("observacoes"):
        lines.append(f"Observações: {row['observacoes']}")
    lines.append(f"Agendamento {row['agendamento_id']} (versão {row['versao']}).")
    body: dict[str, Any] = {
        "title": f"{TIPO_LABEL[row['tipo']]}: {row['lead_nome']}",
        "description": "\n".join(lines),
        "start": iso_utc(start),
        "end": iso_utc(start + timedelta(minutes=_slot(row))),
    }
    if row.get("responsavel") and "@" in row["responsavel"]:
        body["attendees"] = [row["responsavel"]]
    body["location"] = CANAL_LABEL[row["canal"]]
    return body


_CLAIM_SQL = """
WITH c AS (
    SELECT agendamento_id FROM agendamentos
    WHERE calendar_status IN ('pendente', 'erro') AND calendar_proxima_em <= %(now)s
      AND (calendar_lease_ate IS NULL OR calendar_lease_ate < %(now)s)
      {filters}
    ORDER BY calendar_proxima_em
    LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
)
UPDATE agendamentos a
SET calendar_lease_ate = %(now)s + make_interval(secs => %(lease)s), calendar_tentativas = a.calendar_tentativas + 1
FROM c, leads ld, tenants t
WHERE a.agendamento_id = c.agendamento_id
  AND ld.tenant_id = a.tenant_id AND ld.lead_id = a.lead_id AND t.id = a.tenant_id
RETURNING a.agendamento_id, a.tenant_id, a.tipo, a.canal, a.status, a.versao, a.data_agendada, a.observacoes,
          a.responsavel, a.calendar_event_id, a.calendar_versao, a.calendar_tentativas,
          ld.nome AS lead_nome, ld.contato_nome, t.timezone, t.agendamento_slot_minutos
"""

_RESULTS_SQL = """
UPDATE agendamentos a SET
    calendar_event_id = CASE WHEN r.limpar THEN NULL ELSE coalesce(r.event_id, a.calendar_event_id) END,
    calendar_versao = CASE WHEN r.ok THEN r.versao ELSE a.calendar_versao END,
    calendar_status = CASE WHEN a.versao <> r.versao OR a.status <> r.status THEN 'pendente'
                           WHEN r.ok THEN 'sincronizado' ELSE 'erro' END,
    calendar_erro = CASE WHEN r.ok THEN NULL ELSE r.erro END,
    calendar_tentativas = CASE WHEN r.ok THEN 0 ELSE a.calendar_tentativas END,
    calendar_proxima_em = CASE WHEN a.versao <> r.versao OR a.status <> r.status THEN now()
                               WHEN r.ok THEN NULL ELSE r.proxima END,
    calendar_lease_ate = NULL
FROM unnest(%(ids)s::uuid[], %(versao)s::int[], %(status)s::text[], %(ok)s::bool[], %(event)s::text[],
            %(erro)s::text[], %(proxima)s::timestamptz[], %(limpar)s::bool[])
     AS r(id, versao, status, ok, event_id, erro, proxima, limpar)
WHERE a.agendamento_id = r.id
"""


def _operation(row: dict[str, Any]) -> str | None:
    if row["status"] == "cancelado":
        return "delete" if row["calendar_event_id"] else None
    if row["status"] != "pendente":
        return None  # realizado: the event stays as it was
    if not row["calendar_event_id"]:
        return "create"
    if row["calendar_versao"] != row["versao"]:
        return "update"
    return None


def sync_calendar(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant_id: UUID | str | None = None,
    agendamento_ids: list[UUID] | None = None,
    now: datetime | None = None,
    limit: int = 100,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Reconcile pending calendar events (all, or only the given agendamentos). No-op without endpoint."""
    stats = {"criados": 0, "atualizados": 0, "removidos": 0, "sem_mudanca": 0, "erros": 0}
    if not settings.mcp_calendar_endpoint:
        return stats
    now = now or conn.execute("SELECT clock_timestamp() AS n").fetchone()["n"]
    filters, params = "", {"now": now, "n": limit, "lease": LEASE_SECONDS}
    if tenant_id is not None:
        filters += " AND tenant_id = %(t)s"
        params["t"] = tenant_id
    if agendamento_ids is not None:
        filters += " AND agendamento_id = ANY(%(ids)s)"
        params["ids"] = list(agendamento_ids)
    with conn.transaction():
        rows = conn.execute(_CLAIM_SQL.format(filters=filters), params).fetchall()
    if not rows:
        return stats
    out: dict[str, list[Any]] = {
        k: [] for k in ("ids", "versao", "status", "ok", "event", "erro", "proxima", "limpar")
    }
    with CalendarClient(settings, timeout=timeout) as client:
        for row in rows:
            op = _operation(row)
            key = f"{row['agendamento_id']}:{row['versao']}:{op}"
            event_id, ok, erro, proxima, limpar = None, True, None, None, False
            try:
                if op == "create":
                    event_id = client.create(event_body(row), key)
                    stats["criados"] += 1
                elif op == "update":
                    client.update(row["calendar_event_id"], event_body(row), key)
                    stats["atualizados"] += 1
                elif op == "delete":
                    try:
                        client.delete(row["calendar_event_id"], key)
                    except CalendarError as exc:
                        if exc.status not in (404, 410):  # already gone is what we wanted
                            raise
                    stats["removidos"] += 1
                else:
                    stats["sem_mudanca"] += 1
            except CalendarError as exc:
                ok, erro = False, str(exc)
                stats["erros"] += 1
                if op == "update" and exc.status in (404, 410):
                    limpar = True  # the event vanished on the calendar side: create it again
                    proxima = now
                elif row["calendar_tentativas"] < MAX_TENTATIVAS:
                    delay = min(2.0 ** row["calendar_tentativas"], BACKOFF_CAP_S)
                    proxima = now + timedelta(seconds=max(delay, exc.retry_after or 0.0))
                log.warning("calendário: agendamento %s (%s) falhou: %s", row["agendamento_id"], op, erro)
            for k, v in zip(
                out,
                (row["agendamento_id"], row["versao"], row["status"], ok, event_id, erro, proxima, limpar),
                strict=True,
            ):
                out[k].append(v)
    with conn.transaction():
        conn.execute(_RESULTS_SQL, out)
    return stats


def count_pending(conn: psycopg.Connection, *, now: datetime | None = None) -> int:
    row = conn.execute(
        """SELECT count(*) AS n FROM agendamentos
           WHERE calendar_status IN ('pendente', 'erro') AND calendar_proxima_em <= coalesce(%s, now())""",
        (now,),
    ).fetchone()
    return int(row["n"])
