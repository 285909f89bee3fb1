"""The dead-letter queue: disparos that ended `erro` after their attempts, listed and re-driven.

Re-driving puts them back to `pendente`, due now, with fresh attempts and a new Idempotency-Key
(`disparo_id:rN`, N = `reenvios_dlq`, engine.idempotency_key): under the first key an idempotent MCP
server would only replay its first, failed, answer. The send engine takes them from there like any other
due disparo."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

log = logging.getLogger(__name__)


def _pending_filter(
    tenant_id: UUID | None,
    disparo_ids: list[UUID] | None,
    canal: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[str, dict[str, Any]]:
    """WHERE clause (over `disparos_dlq q`) and parameters for the entries not yet re-driven."""
    where, params = "q.redrive_em IS NULL", {}
    for clause, key, value in (
        ("q.tenant_id = %(tenant)s", "tenant", tenant_id),
        ("q.disparo_id = ANY(%(ids)s::uuid[])", "ids", None if disparo_ids is None else list(disparo_ids)),
        ("q.canal = %(canal)s", "canal", canal),
        ("q.created_at >= %(since)s", "since", since),
        ("q.created_at < %(until)s", "until", until),
    ):
        if value is not None:
            where += f" AND {clause}"
            params[key] = value
    return where, params


def list_dlq(
    conn: psycopg.Connection,
    tenant_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    *,
    canal: str | None = None,
) -> list[dict[str, Any]]:
    """Dead-lettered disparos not yet re-driven, newest first."""
    where, params = _pending_filter(tenant_id, None, canal, since, until)
    params["limit"] = max(1, min(int(limit), 10_000))
    return [
        dict(r)
        for r in conn.execute(
            f"""SELECT q.id, q.tenant_id, t.slug AS tenant_slug, q.disparo_id, q.canal, d.destino, d.template,
                       q.ultimo_erro, q.tentativas, q.created_at, d.status AS status_atual
                FROM disparos_dlq q
                JOIN tenants t ON t.id = q.tenant_id
                JOIN disparos d ON d.tenant_id = q.tenant_id AND d.disparo_id = q.disparo_id
                WHERE {where}
                ORDER BY q.created_at DESC, q.id DESC
                LIMIT %(limit)s""",
            params,
        ).fetchall()
    ]


@dataclass
class RedriveResult:
    redriven: int = 0  # back to pendente
    skipped: int = 0  # left in the DLQ: the lead already has an active disparo of the campaign

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_ACTIVE_STATUSES = "('pendente', 'enviando', 'enviado', 'confirmado')"  # uq_disparos_campanha_lead_ativo

# Set-based. A campaign disparo comes back only if its lead has no active disparo of that campaign
# (uq_disparos_campanha_lead_ativo, sql/0004: e.g. /campanhas/{id}/aplicar gave it a new one) and, among
# several erro disparos of one lead and campaign in this redrive, only the newest. Skipped ones keep their
# DLQ entry open (a later redrive takes them once the active one ends in erro).
_REDRIVE = """
WITH q AS (
    SELECT q.id, q.tenant_id, q.disparo_id FROM disparos_dlq q WHERE {where} FOR UPDATE OF q
), c AS (
    SELECT d.tenant_id, d.disparo_id,
           d.campanha_id IS NOT NULL AND (
               EXISTS (SELECT 1 FROM disparos s
                       WHERE s.campanha_id = d.campanha_id AND s.lead_id = d.lead_id
                         AND s.tenant_id = d.tenant_id AND s.status IN {active})
               OR row_number() OVER (PARTITION BY d.campanha_id, d.lead_id
                                     ORDER BY d.created_at DESC, d.disparo_id DESC) > 1
           ) AS pular
    FROM disparos d
    WHERE (d.tenant_id, d.disparo_id) IN (SELECT tenant_id, disparo_id FROM q) AND d.status = 'erro'
), d AS (
    UPDATE disparos d SET status = 'pendente', tentativas = 0, mensagem_erro = NULL,
           reenvios_dlq = d.reenvios_dlq + 1,
           data_agendado = now(), lease_ate = NULL, lease_owner = NULL, updated_at = now()
    FROM c
    WHERE NOT c.pular AND d.tenant_id = c.tenant_id AND d.disparo_id = c.disparo_id AND d.status = 'erro'
    RETURNING 1
), m AS (
    UPDATE disparos_dlq x SET redrive_em = now()
    FROM q
    WHERE x.id = q.id
      AND NOT EXISTS (SELECT 1 FROM c WHERE c.pular AND c.tenant_id = q.tenant_id AND c.disparo_id = q.disparo_id)
)
SELECT (SELECT count(*) FROM d) AS redriven, (SELECT count(*) FROM c WHERE c.pular) AS skipped
"""

# Campaigns of the candidates, locked before the redrive statement takes its snapshot: aplicar_campanha
# holds its campaign FOR UPDATE while it inserts, so a lead it reaches is either visible to the NOT EXISTS
# or not inserted yet (its ON CONFLICT then skips the lead). Two redrives of one campaign take turns too.
_REDRIVE_LOCK = """
SELECT 1 FROM campanhas k
WHERE (k.tenant_id, k.campanha_id) IN (
    SELECT d.tenant_id, d.campanha_id FROM disparos_dlq q
    JOIN disparos d ON d.tenant_id = q.tenant_id AND d.disparo_id = q.disparo_id
    WHERE {where} AND d.status = 'erro' AND d.campanha_id IS NOT NULL)
ORDER BY k.campanha_id
FOR NO KEY UPDATE OF k
"""
_REDRIVE_ATTEMPTS = 3


def redrive(
    conn: psycopg.Connection,
    *,
    tenant_id: UUID | None = None,
    disparo_ids: list[UUID] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    canal: str | None = None,
) -> RedriveResult:
    """Put dead-lettered disparos back to `pendente`, due now, with fresh attempts. Campaign disparos whose
    lead already has an active one in the campaign are skipped (counted), never failing the batch."""
    where, params = _pending_filter(tenant_id, disparo_ids, canal, since, until)
    for attempt in range(1, _REDRIVE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(_REDRIVE_LOCK.format(where=where), params)
                cur = conn.execute(_REDRIVE.format(where=where, active=_ACTIVE_STATUSES), params)
                row = cur.fetchone()
            break
        except psycopg.errors.UniqueViolation as exc:
            # An active disparo created by a path that does not lock the campaign: a new statement (new
            # snapshot) sees it and skips the row.
            if attempt == _REDRIVE_ATTEMPTS or exc.diag.constraint_name != "uq_disparos_campanha_lead_ativo":
                raise
            log.warning("redrive: disparo ativo concorrente na campanha; tentando de novo (%d)", attempt)
    redriven, skipped = row.values() if isinstance(row, dict) else row
    return RedriveResult(redriven=int(redriven), skipped=int(skipped))
