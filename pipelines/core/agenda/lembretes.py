"""Reminders of agendamentos, sent through MCP like disparos.

One row per agendamento x destinatário (``responsavel``, ``lead``) x versao in ``agendamento_lembretes``,
with idempotency key ``agendamento_id:destinatario:versao`` sent as ``Idempotency-Key`` on every attempt,
so a retry or a second worker never produces a second message.

- Planned set-based when an agendamento is created or rescheduled, due at ``data_agendada -
  lembrete_minutos`` (default ``tenants.lembrete_minutos_padrao``).
- The responsible person gets it on the team channel: ``responsavel`` when given (e-mail -> email,
  phone -> whatsapp), else ``tenants.equipe_canal`` / ``tenants.equipe_destino``; no destination at all ->
  ``bloqueado`` with the reason.
- The lead gets one only for a ``reuniao`` with ``lembrete_lead`` (consent): WhatsApp to its principal valid
  phone, else e-mail to its principal valid e-mail, skipping opted-out destinations.
- Claimed with ``FOR UPDATE SKIP LOCKED`` in batches; the claim re-checks that the agendamento is still
  ``pendente`` at the same ``versao`` and locks it FOR SHARE until the batch's results are written, so a
  concurrent cancel/reschedule either makes the claim skip the row or waits until the send is done.
  Cancel/reschedule cancel pending reminders set-based.
- Retries: backoff from 1 s doubling, capped at 30 s (or the server's Retry-After), up to ``max_tentativas``
  (3), then ``erro``. A reminder not sent by ``data_agendada + 15 min`` is ``expirado``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg

from pipelines.core.agenda.model import CANAL_LABEL, TIPO_LABEL, format_local
from pipelines.core.common.db import connection
from pipelines.core.common.settings import Settings
from pipelines.core.send.backoff import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_delay
from pipelines.core.send.mcp import McpClient, SendResult

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # = concurrency: a batch is one wave of sends, so its locks are held ≤ one MCP timeout
LEASE_SECONDS = 120
EXPIRE_AFTER = timedelta(minutes=15)


def backoff_seconds(tentativas: int, retry_after: float | None = None) -> float:
    """The send engine's backoff (1 s, 2 s, 4 s … capped at 30 s), without jitter: reminders are few and
    a predictable schedule is easier to read. A server's Retry-After wins if longer."""
    delay = backoff_delay(tentativas, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S, jitter=0.0)
    return max(delay, retry_after or 0.0)


_PLAN_SQL = """
INSERT INTO agendamento_lembretes AS l (tenant_id, agendamento_id, destinatario, versao, canal, destino, status,
    data_agendado, disponivel_em, idempotency_key, mensagem_erro)
SELECT r.tenant_id, r.agendamento_id, r.destinatario, r.versao, r.canal, r.destino,
       CASE WHEN r.canal IS NULL OR r.destino IS NULL THEN 'bloqueado' ELSE 'pendente' END,
       r.quando, r.quando, r.agendamento_id::text || ':' || r.destinatario || ':' || r.versao,
       CASE WHEN r.canal IS NULL OR r.destino IS NULL THEN r.motivo END
FROM (
    SELECT a.tenant_id, a.agendamento_id, 'responsavel' AS destinatario, a.versao,
           CASE WHEN a.responsavel IS NULL THEN t.equipe_canal
                WHEN position('@' IN a.responsavel) > 0 THEN 'email' ELSE 'whatsapp' END AS canal,
           CASE WHEN a.responsavel IS NULL AND t.equipe_canal IS NOT NULL THEN nullif(trim(t.equipe_destino), '')
                ELSE a.responsavel END AS destino,
           a.data_agendada - make_interval(mins => coalesce(a.lembrete_minutos, t.lembrete_minutos_padrao)) AS quando,
           'sem destino para a equipe: informe responsavel ou configure equipe_canal e equipe_destino do tenant'
               AS motivo
    FROM agendamentos a JOIN tenants t ON t.id = a.tenant_id
    WHERE a.tenant_id = %(t)s AND a.agendamento_id = ANY(%(ids)s) AND a.status = 'pendente'
    UNION ALL
    SELECT a.tenant_id, a.agendamento_id, 'lead', a.versao,
           CASE WHEN tel.telefone IS NOT NULL THEN 'whatsapp' WHEN em.email IS NOT NULL THEN 'email' END,
           coalesce(tel.telefone, em.email),
           a.data_agendada - make_interval(mins => coalesce(a.lembrete_minutos, t.lembrete_minutos_padrao)),
           'o lead não tem telefone nem e-mail válido (ou pediu para não ser contatado)'
    FROM agendamentos a JOIN tenants t ON t.id = a.tenant_id
    LEFT JOIN LATERAL (
        SELECT p.telefone FROM telefones_whatsapp p  -- phones that may get a WhatsApp (sql/0016)
        WHERE p.tenant_id = a.tenant_id AND p.lead_id = a.lead_id
          AND NOT EXISTS (SELECT 1 FROM optouts o
                          WHERE o.tenant_id = p.tenant_id AND o.canal = 'whatsapp' AND o.destino = p.telefone)
        ORDER BY p.telefone_principal DESC, p.data_criacao, p.telefone LIMIT 1
    ) tel ON TRUE
    LEFT JOIN LATERAL (
        SELECT e.email FROM lead_emails e
        WHERE e.tenant_id = a.tenant_id AND e.lead_id = a.lead_id AND e.valido_para_disparo
          AND NOT EXISTS (SELECT 1 FROM optouts o
                          WHERE o.tenant_id = e.tenant_id AND o.canal = 'email' AND o.destino = e.email)
        ORDER BY e.email_principal DESC, e.data_criacao, e.email LIMIT 1
    ) em ON TRUE
    WHERE a.tenant_id = %(t)s AND a.agendamento_id = ANY(%(ids)s) AND a.status = 'pendente'
      AND a.tipo = 'reuniao' AND a.lembrete_lead
) r
ON CONFLICT (agendamento_id, destinatario, versao) DO NOTHING
"""


def plan_reminders(conn: psycopg.Connection, tenant_id: UUID | str, agendamento_ids: Iterable[UUID]) -> int:
    """Create the reminder rows of the agendamentos' current versao (one statement). Returns rows created."""
    ids = list(agendamento_ids)
    if not ids:
        return 0
    return conn.execute(_PLAN_SQL, {"t": tenant_id, "ids": ids}).rowcount


def cancel_reminders(
    conn: psycopg.Connection, tenant_id: UUID | str, agendamento_ids: Iterable[UUID], motivo: str
) -> int:
    """Cancel the pending reminders (any versao) of these agendamentos, set-based. A reminder already
    claimed ('enviando') is in flight and cannot be recalled; it completes."""
    ids = list(agendamento_ids)
    if not ids:
        return 0
    return conn.execute(
        """UPDATE agendamento_lembretes SET status = 'cancelado', mensagem_erro = %s, updated_at = now()
           WHERE tenant_id = %s AND agendamento_id = ANY(%s) AND status = 'pendente'""",
        (motivo, tenant_id, ids),
    ).rowcount


# --- the sweep --------------------------------------------------------------------------------------

_HOUSEKEEPING_SQL = [
    # agendamento no longer pending or moved (safety net; cancel/reschedule already do this), including
    # leases that expired after the agendamento changed
    (
        "cancelados",
        """UPDATE agendamento_lembretes l SET status = 'cancelado', lease_ate = NULL, lease_owner = NULL,
               mensagem_erro = 'agendamento ' || a.status || CASE WHEN a.versao <> l.versao THEN ' (reagendado)' ELSE '' END,
               updated_at = now()
           FROM agendamentos a
           WHERE a.tenant_id = l.tenant_id AND a.agendamento_id = l.agendamento_id
             AND (l.status = 'pendente' OR (l.status = 'enviando' AND l.lease_ate < %(now)s))
             AND (a.status <> 'pendente' OR a.versao <> l.versao)""",
    ),
    (
        "expirados",
        """UPDATE agendamento_lembretes l SET status = 'expirado', lease_ate = NULL, lease_owner = NULL,
               mensagem_erro = 'não enviado até o horário do agendamento', updated_at = now()
           FROM agendamentos a
           WHERE a.tenant_id = l.tenant_id AND a.agendamento_id = l.agendamento_id
             AND (l.status = 'pendente' OR (l.status = 'enviando' AND l.lease_ate < %(now)s))
             AND a.data_agendada + %(expire)s < %(now)s""",
    ),
    (
        "erros_lease",
        """UPDATE agendamento_lembretes SET status = 'erro', lease_ate = NULL, lease_owner = NULL,
               mensagem_erro = coalesce(mensagem_erro, 'lease expirou') || ' (após ' || tentativas || ' tentativas)',
               updated_at = now()
           WHERE status = 'enviando' AND lease_ate < %(now)s AND tentativas >= max_tentativas""",
    ),
]

_CLAIM_SQL = """
WITH due AS (
    SELECT l.lembrete_id
    FROM agendamento_lembretes l
    JOIN agendamentos a ON a.tenant_id = l.tenant_id AND a.agendamento_id = l.agendamento_id
    WHERE ((l.status = 'pendente' AND l.disponivel_em <= %(now)s)
           OR (l.status = 'enviando' AND l.lease_ate < %(now)s AND l.tentativas < l.max_tentativas))
      AND a.status = 'pendente' AND a.versao = l.versao
      AND a.data_agendada + %(expire)s >= %(now)s
    ORDER BY l.disponivel_em
    LIMIT %(n)s
    FOR UPDATE OF l SKIP LOCKED
    FOR SHARE OF a SKIP LOCKED
)
UPDATE agendamento_lembretes l
SET status = 'enviando', tentativas = l.tentativas + 1, lease_owner = %(owner)s,
    lease_ate = %(now)s + make_interval(secs => %(lease)s), updated_at = now()
FROM due, agendamentos a, leads ld, tenants t
WHERE l.lembrete_id = due.lembrete_id
  AND a.tenant_id = l.tenant_id AND a.agendamento_id = l.agendamento_id
  AND ld.tenant_id = a.tenant_id AND ld.lead_id = a.lead_id
  AND t.id = a.tenant_id
RETURNING l.lembrete_id, l.destinatario, l.canal, l.destino, l.idempotency_key, l.tentativas, l.max_tentativas,
          a.agendamento_id, a.tipo, a.canal AS agendamento_canal, a.data_agendada, a.observacoes, a.responsavel,
          ld.nome AS lead_nome, ld.contato_nome,
          (SELECT p.telefone FROM lead_telefones p WHERE p.tenant_id = a.tenant_id AND p.lead_id = a.lead_id
           ORDER BY p.valido_para_disparo DESC, p.telefone_principal DESC, p.data_criacao LIMIT 1) AS lead_telefone,
          (SELECT e.email FROM lead_emails e WHERE e.tenant_id = a.tenant_id AND e.lead_id = a.lead_id
           ORDER BY e.valido_para_disparo DESC, e.email_principal DESC, e.data_criacao LIMIT 1) AS lead_email,
          t.nome AS tenant_nome, t.timezone
"""

_RESULTS_SQL = """
UPDATE agendamento_lembretes l
SET status = r.status, message_id = coalesce(r.message_id, l.message_id), mensagem_erro = r.erro,
    disponivel_em = coalesce(r.proxima, l.disponivel_em),
    data_envio = CASE WHEN r.status = 'enviado' THEN now() ELSE l.data_envio END,
    lease_ate = NULL, lease_owner = NULL, updated_at = now()
FROM unnest(%(ids)s::uuid[], %(status)s::text[], %(mid)s::text[], %(erro)s::text[], %(proxima)s::timestamptz[])
     AS r(id, status, message_id, erro, proxima)
WHERE l.lembrete_id = r.id AND l.status = 'enviando' AND l.lease_owner = %(owner)s
"""


def render_message(row: dict[str, Any]) -> tuple[str, str]:
    """(subject, text) of a reminder; times in the tenant's time zone."""
    tz = ZoneInfo(row["timezone"])
    quando = format_local(row["data_agendada"], tz)
    tipo = TIPO_LABEL[row["tipo"]]
    canal = CANAL_LABEL[row["agendamento_canal"]]
    if row["destinatario"] == "lead":
        nome = row["contato_nome"] or row["lead_nome"]
        subject = f"Lembrete: {tipo.lower()} em {quando}"
        text = (
            f"Olá, {nome}! Lembrete da sua {tipo.lower()} com {row['tenant_nome']} em {quando}, por {canal}."
        )
        return subject, text
    contato = (
        " / ".join(x for x in (row["lead_telefone"], row["lead_email"]) if x) or "sem contato cadastrado"
    )
    subject = f"Lembrete: {tipo} com {row['lead_nome']} em {quando}"
    lines = [
        f"Lembrete: {tipo} com {row['lead_nome']} em {quando}, por {canal}.",
        f"Contato do lead: {contato}.",
    ]
    if row["observacoes"]:
        lines.append(f"Observações: {row['observacoes']}")
    lines.append(f"Agendamento {row['agendamento_id']}.")
    return subject, "\n".join(lines)


async def _send_one(mcp: McpClient, row: dict[str, Any]) -> SendResult:
    subject, text = render_message(row)
    try:
        if row["canal"] == "whatsapp":
            return await mcp.send_whatsapp(row["destino"], text, idempotency_key=row["idempotency_key"])
        return await mcp.send_email(row["destino"], subject, text, idempotency_key=row["idempotency_key"])
    except Exception as exc:  # a config error (endpoint unset) is retried: it may be fixed before the time
        return SendResult("retry", None, f"{type(exc).__name__}: {exc}")


def _now(conn: psycopg.Connection, now: datetime | None) -> datetime:
    return now or conn.execute("SELECT clock_timestamp() AS n").fetchone()["n"]


def claim_due(
    conn: psycopg.Connection, owner: str, *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> list[dict[str, Any]]:
    """Claim up to batch_size due reminders (one statement, FOR UPDATE SKIP LOCKED) under a lease."""
    with conn.transaction():
        return conn.execute(
            _CLAIM_SQL,
            {
                "now": _now(conn, now),
                "expire": EXPIRE_AFTER,
                "n": batch_size,
                "owner": owner,
                "lease": LEASE_SECONDS,
            },
        ).fetchall()


def write_results(
    conn: psycopg.Connection, owner: str, rows: list[dict[str, Any]], results: list[SendResult], now: datetime
) -> dict[str, int]:
    """One UPDATE for the whole batch; only rows still leased by this owner are written."""
    ids, status, mids, erros, proximas = [], [], [], [], []
    counts = {"enviados": 0, "retry": 0, "erro": 0}
    for row, res in zip(rows, results, strict=True):
        ids.append(row["lembrete_id"])
        mids.append(res.message_id)
        if res.outcome == "sent":
            status.append("enviado")
            erros.append(None)
            proximas.append(None)
            counts["enviados"] += 1
        elif res.outcome == "retry" and row["tentativas"] < row["max_tentativas"]:
            status.append("pendente")
            erros.append(res.error)
            proximas.append(now + timedelta(seconds=backoff_seconds(row["tentativas"], res.retry_after)))
            counts["retry"] += 1
        else:
            status.append("erro")
            erros.append(f"{res.error} (tentativa {row['tentativas']} de {row['max_tentativas']})")
            proximas.append(None)
            counts["erro"] += 1
    with conn.transaction():
        conn.execute(
            _RESULTS_SQL,
            {"ids": ids, "status": status, "mid": mids, "erro": erros, "proxima": proximas, "owner": owner},
        )
    return counts


def housekeeping(conn: psycopg.Connection, *, now: datetime | None = None) -> dict[str, int]:
    out = {}
    with conn.transaction():
        params = {"now": _now(conn, now), "expire": EXPIRE_AFTER}
        for name, sql in _HOUSEKEEPING_SQL:
            out[name] = conn.execute(sql, params).rowcount
    return out


def count_due(conn: psycopg.Connection, *, now: datetime | None = None) -> int:
    """Cheap check for the sensor: due pending reminders plus expired leases."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM agendamento_lembretes
                   WHERE status = 'pendente' AND disponivel_em <= %(now)s)
                + (SELECT count(*) FROM agendamento_lembretes
                   WHERE status = 'enviando' AND lease_ate < %(now)s) AS n""",
        {"now": _now(conn, now)},
    ).fetchone()
    return int(row["n"])


def next_due_at(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute(
        "SELECT min(disponivel_em) AS n FROM agendamento_lembretes WHERE status = 'pendente'"
    ).fetchone()
    return row["n"]


def send_due_reminders(
    url: str | None = None,
    *,
    time_budget_s: float = 30,
    settings: Settings | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    concurrency: int = BATCH_SIZE,
    timeout: float = 10.0,
    sync_calendar_events: bool = True,
    owner: str | None = None,
) -> dict[str, Any]:
    """Send every due reminder (batches, until none is due or the time budget is spent), then sync pending
    calendar events when MCP_CALENDAR_ENDPOINT is set. `now` is injectable for tests; `owner` is the lease
    owner (the long-lived loop passes its worker id)."""
    settings = settings or Settings.from_env()
    owner = owner or f"lembretes:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    stats: dict[str, Any] = {"reclamados": 0, "enviados": 0, "retry": 0, "erro": 0, "lotes": 0}
    with connection(url) as conn:
        stats.update(housekeeping(conn, now=now))

        async def _drain() -> None:
            async with McpClient(settings, concurrency=concurrency, timeout=timeout) as mcp:
                while time.monotonic() - started < time_budget_s:
                    # One transaction per batch: claim, send, write. The agendamentos stay locked FOR SHARE
                    # while their reminders are in flight, so a cancel/reschedule of one of them commits
                    # only after the send (it waits, at most the MCP timeout): a reminder never goes out
                    # after its agendamento was cancelled or moved. A crash rolls the claim back and the
                    # retry reuses the idempotency key.
                    with conn.transaction():
                        rows = claim_due(conn, owner, now=now, batch_size=batch_size)
                        if not rows:
                            break
                        stats["lotes"] += 1
                        stats["reclamados"] += len(rows)
                        results = await asyncio.gather(*(_send_one(mcp, r) for r in rows))
                        counts = write_results(conn, owner, rows, list(results), _now(conn, now))
                    for k, v in counts.items():
                        stats[k] += v

        asyncio.run(_drain())
        if sync_calendar_events and settings.mcp_calendar_endpoint:
            from pipelines.core.agenda.calendar_sync import sync_calendar

            stats["calendar"] = sync_calendar(conn, settings, now=now)
    stats["duracao_s"] = round(time.monotonic() - started, 3)
    log.info("lembretes: %s", stats)
    return stats
