"""Delivery confirmations from the MCP servers (`POST /webhooks/mcp/status`).

Body `{"messageId", "status": "delivered"|"read"|"failed", "timestamp"?, "error"?}`, header
`X-MCP-Signature: sha256=<hex HMAC-SHA256(tenant webhook secret, raw body)>`. The tenant is the one of
the disparo with that message id; its secret is compared in constant time. Transitions only move
forward: delivered/read take `enviado` (or `enviando` with that message id) to `confirmado`; failed
takes it to `erro`. A confirmado disparo never goes back; repeats and out-of-order receipts are no-ops
(a delivered receipt older than the read one only moves `data_retorno` back to the delivery time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pipelines.core.common.errors import AuthError, NotFoundError, ValidationError
from pipelines.core.tenancy.tenants import get_webhook_secret

RECEIPT_STATUSES = ("delivered", "read", "failed")
SIGNATURE_HEADER = "X-MCP-Signature"
EVENT_RETORNO = "disparo-agenda.disparo.retorno"  # outbox event of an applied receipt


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts in X-MCP-Signature."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationError("o corpo não é JSON válido") from None
    if not isinstance(data, dict):
        raise ValidationError("o corpo deve ser um objeto JSON")
    message_id = data.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValidationError("messageId é obrigatório", field="messageId")
    if data.get("status") not in RECEIPT_STATUSES:
        raise ValidationError(
            f"status inválido: {data.get('status')!r}; use {', '.join(RECEIPT_STATUSES)}", field="status"
        )
    when = datetime.now(UTC)
    if data.get("timestamp") is not None:
        try:
            when = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("timestamp não é ISO-8601", field="timestamp") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return {
        "message_id": message_id.strip(),
        "status": data["status"],
        "when": when,
        "error": data.get("error"),
    }


def apply_receipt(conn: psycopg.Connection, body: bytes, signature: str | None) -> dict[str, Any]:
    """Verify and apply one receipt. Unknown messageId -> NotFoundError (404, so the sender retries a
    receipt that raced ahead of the send result); bad or missing signature -> AuthError (401)."""
    receipt = _parse(body)
    row = conn.execute(
        "SELECT tenant_id, disparo_id FROM disparos WHERE message_id = %s ORDER BY created_at DESC LIMIT 1",
        (receipt["message_id"],),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"messageId {receipt['message_id']} desconhecido", field="messageId")
    if not verify(get_webhook_secret(conn, row["tenant_id"]), body, signature):
        raise AuthError(f"assinatura {SIGNATURE_HEADER} ausente ou inválida")
    tenant_id, disparo_id, when = row["tenant_id"], row["disparo_id"], receipt["when"]
    with conn.transaction():
        current = conn.execute(
            "SELECT status, lead_id FROM disparos WHERE tenant_id = %s AND disparo_id = %s FOR UPDATE",
            (tenant_id, disparo_id),
        ).fetchone()
        status, applied = current["status"], False
        if receipt["status"] in ("delivered", "read"):
            if status in ("enviado", "enviando"):
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
        elif status in ("enviado", "enviando"):
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
    return {
        "messageId": receipt["message_id"],
        "disparo_id": str(disparo_id),
        "status": status,
        "aplicado": applied,
    }
