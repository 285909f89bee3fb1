"""Publishing the outbox: every `eventos_outbox` row of a tenant with a `webhook_url` is POSTed there,
in batches, signed, until the webhook answers 2xx — at least once, with a stable event id.

Request: `POST <webhook_url>` with `Content-Type: application/json`, body
`{"eventos": [{"id", "tipo", "tenant_id", "entidade_id", "criado_em", "tentativa", "payload"}, …]}`
(oldest first; at most BATCH per request) and the headers `X-Disparo-Agenda-Timestamp: <unix seconds>`
and `X-Disparo-Agenda-Signature: sha256=<hex HMAC-SHA256(tenant webhook secret, "<timestamp>.<body>")>`,
the scheme of the MCP receipts (pipelines.core.common.signing). `id` is the outbox row id: the same
event keeps it on every attempt, so the consumer deduplicates on it.

A 2xx marks the batch published (`publicado_em`). Anything else — an error status, a timeout, a refused
connection — counts an attempt on the batch, records the reason in `ultimo_erro` and holds the tenant's
whole queue (order is kept) for an exponential backoff (BACKOFF_BASE_S doubling, capped at BACKOFF_CAP_S,
± 20 %); nothing is ever given up — events older than the tenant's retention are pruned by housekeeping."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import psycopg

from pipelines.core.common import signing
from pipelines.core.common.convert import iso_utc
from pipelines.core.common.logs import log_event, redact
from pipelines.core.common.queries import query
from pipelines.core.send.backoff import backoff_delay
from pipelines.core.tenancy.secrets import get_webhook_secret

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Disparo-Agenda-Timestamp"
SIGNATURE_HEADER = "X-Disparo-Agenda-Signature"
BATCH = 100  # events per request (and per tenant per round)
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0
TIMEOUT_S = 10.0


@dataclass
class PublishStats:
    entregues: int = 0  # events the webhooks acknowledged
    falhas: int = 0  # events of failed requests (retried later)
    requisicoes: int = 0
    tenants: list[str] = field(default_factory=list)  # tenants delivered to
    erros: list[str] = field(default_factory=list)  # one line per failed request

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if not self.requisicoes:
            return "nenhum evento a publicar"
        text = f"{self.entregues} eventos entregues em {self.requisicoes} requisições"
        if self.falhas:
            text += f"; {self.falhas} eventos ficam para nova tentativa ({'; '.join(self.erros[:3])})"
        return text


def event_body(rows: list[dict[str, Any]]) -> bytes:
    """The JSON body of one batch (what is signed and sent)."""
    eventos = [
        {
            "id": r["id"],
            "tipo": r["tipo"],
            "tenant_id": str(r["tenant_id"]),
            "entidade_id": str(r["entidade_id"]),
            "criado_em": iso_utc(r["created_at"]),
            "tentativa": r["tentativas"] + 1,
            "payload": r["payload"],
        }
        for r in rows
    ]
    return json.dumps({"eventos": eventos}, ensure_ascii=False, default=str).encode()


def _post(client: httpx.Client, url: str, body: bytes, secret: str) -> str | None:
    """None when the webhook acknowledged the batch, else why not."""
    headers = {
        "Content-Type": "application/json",
        **signing.signed_headers(
            secret, body, timestamp_header=TIMESTAMP_HEADER, signature_header=SIGNATURE_HEADER
        ),
    }
    try:
        resp = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {redact(str(exc)) or 'sem resposta'}"
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}"


def publish_round(
    conn: psycopg.Connection, client: httpx.Client, stats: PublishStats, *, batch: int = BATCH
) -> int:
    """One batch per tenant with due events; returns how many events were claimed (0: nothing due)."""
    with conn.transaction():
        rows = conn.execute(query("observability", "outbox_claim"), {"batch": batch}).fetchall()
        by_tenant: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            by_tenant.setdefault(row["tenant_id"], []).append(row)
        for tenant_id, events in by_tenant.items():
            ids = [e["id"] for e in events]
            secret = get_webhook_secret(conn, tenant_id)
            error = (
                "o tenant não tem segredo de webhook (`tenant webhook-secret SLUG --rotate`)"
                if not secret
                else _post(client, events[0]["webhook_url"], event_body(events), secret)
            )
            stats.requisicoes += 1
            if error is None:
                conn.execute(query("observability", "outbox_delivered"), {"ids": ids})
                log_event(log, "outbox.publish", tenant_id=tenant_id, eventos=len(ids), primeiro_id=ids[0])
                stats.entregues += len(ids)
                if str(tenant_id) not in stats.tenants:
                    stats.tenants.append(str(tenant_id))
                continue
            attempt = max(e["tentativas"] for e in events) + 1
            wait = backoff_delay(attempt, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S)
            conn.execute(
                query("observability", "outbox_failed"),
                {"ids": ids, "erro": error[:500], "espera": wait},
            )
            stats.falhas += len(ids)
            stats.erros.append(f"tenant {tenant_id}: {error} (tentativa {attempt}, nova em {wait:.0f} s)")
            log_event(
                log, "outbox.publish", level=logging.WARNING, result="failure", tenant_id=tenant_id,
                message="entrega de eventos falhou", eventos=len(ids), tentativa=attempt, erro=error,
            )  # fmt: skip
    return len(rows)


def publish_due(
    conn: psycopg.Connection,
    *,
    batch: int = BATCH,
    budget_s: float = 20.0,
    timeout_s: float = TIMEOUT_S,
    client: httpx.Client | None = None,
) -> PublishStats:
    """Deliver due events, round after round, until none is due or `budget_s` is spent."""
    stats = PublishStats()
    deadline = time.monotonic() + budget_s
    own = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    try:
        while publish_round(conn, client, stats, batch=batch) and time.monotonic() < deadline:
            pass
    finally:
        if own:
            client.close()
    return stats
