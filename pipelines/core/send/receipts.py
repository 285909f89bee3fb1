"""Delivery confirmations from the MCP servers (`POST /webhooks/mcp/status`).

Body `{"messageId", "status": "delivered"|"read"|"failed", "timestamp"?, "error"?}`; headers
`X-MCP-Timestamp: <unix seconds>` and `X-MCP-Signature: sha256=<hex HMAC-SHA256(tenant webhook secret,
"<timestamp>.<raw body>")>` (the Stripe/Slack scheme). The tenant is the one of the disparo with that
message id; its secret is compared in constant time.

Replays: the signed timestamp must be within `TOLERANCE` of now (older or newer is a 401), and a signature
accepted inside that window is remembered (table `webhook_recibos_vistos`), so the same bytes sent again
are a no-op (200, `aplicado: false`, so an MCP retrying after a timeout stops retrying). Receipts signed
over the body alone (without a timestamp) are refused: they could be replayed forever.

Attempts: a receipt applies only to the disparo's current attempt: the disparo must be `enviado` with that
message id (`enviando` means a new attempt is in flight: 404, the sender retries), and the body's
`timestamp` must not be earlier than that attempt's `data_envio` (minus `CLOCK_SKEW`) — older receipts
belong to an earlier attempt and are ignored; a `timestamp` beyond now + `TOLERANCE` is a 422.

Transitions only move forward: delivered/read take `enviado` to `confirmado`; failed takes it to `erro`
(and the DLQ). A confirmado disparo never goes back; repeats and out-of-order receipts are no-ops (a
delivered receipt older than the read one only moves `data_retorno` back to the delivery time).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pipelines.core.common import signing
from pipelines.core.common.errors import AuthError, NotFoundError, ValidationError
from pipelines.core.common.signing import sign, verify  # noqa: F401 (sign: what MCP servers compute)
from pipelines.core.tenancy.tenants import get_webhook_secret

log = logging.getLogger(__name__)

RECEIPT_STATUSES = ("delivered", "read", "failed")
SIGNATURE_HEADER = "X-MCP-Signature"
TIMESTAMP_HEADER = "X-MCP-Timestamp"
TOLERANCE = timedelta(minutes=5)  # signed timestamp vs now, both ways; also how long signatures are kept
CLOCK_SKEW = timedelta(minutes=1)  # MCP clock vs ours when comparing a receipt with data_envio
EVENT_RETORNO = "disparo-agenda.disparo.retorno"  # outbox event of an applied receipt
_CLEANUP_BATCH = 200


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Both headers of a receipt (tests, tools)."""
    return signing.signed_headers(
        secret,
        body,
        timestamp_header=TIMESTAMP_HEADER,
        signature_header=SIGNATURE_HEADER,
        timestamp=timestamp,
    )


def _signed_at(header: str | None, now: datetime) -> datetime:
    """The X-MCP-Timestamp as a datetime, refused (401) when absent, malformed or outside the window."""
    try:
        signed_at = datetime.fromtimestamp(int((header or "").strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise AuthError(f"cabeçalho {TIMESTAMP_HEADER} ausente ou inválido (segundos Unix)") from None
    if abs(now - signed_at) > TOLERANCE:
        raise AuthError(
            f"{TIMESTAMP_HEADER} fora da janela de {int(TOLERANCE.total_seconds() // 60)} minutos "
            "(recibo antigo reenviado ou relógio do servidor MCP errado)"
        )
    return signed_at


def _parse(body: bytes, now: datetime) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationError("o corpo não é JSON válido") from None
    if not isinstance(data, dict):
        raise ValidationError("o corpo deve ser um objeto JSON")
    message_id = data.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValidationError("messageId é obrigatório", field="messageId")
    if len(message_id) > 200 or "\x00" in message_id:
        raise ValidationError("messageId inválido (até 200 caracteres, sem NUL)", field="messageId")
    if data.get("status") not in RECEIPT_STATUSES:
        raise ValidationError(
            f"status inválido: {data.get('status')!r}; use {', '.join(RECEIPT_STATUSES)}", field="status"
        )
    when = None
    if data.get("timestamp") is not None:
        try:
            when = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("timestamp não é ISO-8601", field="timestamp") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when > now + TOLERANCE:
            raise ValidationError(f"timestamp no futuro: {data['timestamp']}", field="timestamp")
    return {
        "message_id": message_id.strip(),
        "status": data["status"],
        "when": when,
        "error": data.get("error"),
    }


def apply_receipt(
    conn: psycopg.Connection,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify and apply one receipt. Unknown messageId, or a new attempt in flight -> NotFoundError (404,
    so the sender retries a receipt that raced ahead of the send result); bad, missing or stale
    signature -> AuthError (401); malformed body or a timestamp in the future -> ValidationError (422)."""
    now = now or datetime.now(UTC)
    receipt = _parse(body, now)
    row = conn.execute(
        "SELECT tenant_id, disparo_id FROM disparos WHERE message_id = %s ORDER BY created_at DESC LIMIT 1",
        (receipt["message_id"],),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"messageId {receipt['message_id']} desconhecido", field="messageId")
    signed_at = _signed_at(timestamp, now)
    if not verify(get_webhook_secret(conn, row["tenant_id"]), body, signature, int(signed_at.timestamp())):
        raise AuthError(f"assinatura {SIGNATURE_HEADER} ausente ou inválida")
    tenant_id, disparo_id = row["tenant_id"], row["disparo_id"]
    when = receipt["when"] or signed_at
    with conn.transaction():
        current = conn.execute(
            """SELECT status, lead_id, message_id, data_envio FROM disparos
               WHERE tenant_id = %s AND disparo_id = %s FOR UPDATE""",
            (tenant_id, disparo_id),
        ).fetchone()
        if current["message_id"] != receipt["message_id"] or current["status"] == "enviando":
            # A newer attempt took over (new message id, or a re-send in flight): not this receipt's.
            raise NotFoundError(
                f"messageId {receipt['message_id']} não é o envio atual do disparo", field="messageId"
            )
        seen = conn.execute(
            """INSERT INTO webhook_recibos_vistos (tenant_id, assinatura, message_id, expira_em)
               VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            (tenant_id, signature.strip().removeprefix("sha256="), receipt["message_id"],
             signed_at + TOLERANCE + CLOCK_SKEW),
        ).rowcount == 0  # fmt: skip
        status, applied = current["status"], False
        stale = current["data_envio"] is not None and when < current["data_envio"] - CLOCK_SKEW
        if seen or stale:
            log.info(
                "recibo ignorado (%s) para messageId %s",
                "repetido" if seen else "anterior ao envio atual",
                receipt["message_id"],
            )
        elif receipt["status"] in ("delivered", "read"):
            if status == "enviado":
                conn.execute(
                    """UPDATE disparos SET status = 'confirmado', data_retorno = %s, mensagem_erro = NULL,
                              lease_ate = NULL, lease_owner = NULL, updated_at = now()
                       WHERE tenant_id = %s AND disparo_id = %s""",
                    (when, tenant_id, disparo_id),
                )
                status, applied = "confirmado", True
            elif status == "confirmado" and receipt["status"] == "delivered":
                conn.execute(
                    """UPDATE disparos SET data_retorno = LEAST(data_retorno, %s)
                       WHERE tenant_id = %s AND disparo_id = %s AND data_retorno > %s""",
                    (when, tenant_id, disparo_id, when),
                )
        elif status == "enviado":
            erro = str(receipt["error"] or "falha de entrega informada pelo MCP")[:1000]
            conn.execute(
                """UPDATE disparos SET status = 'erro', mensagem_erro = %s, data_retorno = %s,
                          lease_ate = NULL, lease_owner = NULL, updated_at = now()
                   WHERE tenant_id = %s AND disparo_id = %s""",
                (erro, when, tenant_id, disparo_id),
            )
            # Same DLQ row shape as the send engine's, so `redrive` treats both alike.
            conn.execute(
                """INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, ultimo_erro, tentativas)
                   SELECT tenant_id, disparo_id, canal,
                          jsonb_build_object('destino', destino, 'template', template, 'payload', payload),
                          mensagem_erro, tentativas
                   FROM disparos WHERE tenant_id = %s AND disparo_id = %s""",
                (tenant_id, disparo_id),
            )
            status, applied = "erro", True
        if applied:
            conn.execute(
                "UPDATE leads SET data_ultimo_evento = now() WHERE tenant_id = %s AND lead_id = %s",
                (tenant_id, current["lead_id"]),
            )
            conn.execute(
                "INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload) VALUES (%s, %s, %s, %s)",
                (
                    tenant_id, EVENT_RETORNO, disparo_id,
                    Jsonb({"disparo_id": str(disparo_id), "message_id": receipt["message_id"], "status": status,
                           "recibo": receipt["status"], "data_retorno": when.isoformat()}),
                ),
            )  # fmt: skip
    forget_expired_receipts(conn)
    return {
        "messageId": receipt["message_id"],
        "disparo_id": str(disparo_id),
        "status": status,
        "aplicado": applied,
    }


def forget_expired_receipts(conn: psycopg.Connection, limit: int = _CLEANUP_BATCH) -> int:
    """Delete a small batch of remembered signatures whose window has passed. Called after every receipt,
    so the table stays about window × receipt rate; concurrent callers skip each other's rows."""
    return conn.execute(
        """DELETE FROM webhook_recibos_vistos WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM webhook_recibos_vistos WHERE expira_em < now()
               LIMIT %s FOR UPDATE SKIP LOCKED))""",
        (limit,),
    ).rowcount
