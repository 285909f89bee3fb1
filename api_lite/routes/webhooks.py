"""Delivery confirmations from the MCP servers. No Bearer auth: the body is signed with the tenant's
webhook secret over "<X-MCP-Timestamp>.<body>" (X-MCP-Signature: sha256=<hex HMAC>), verified in constant
time; stale timestamps and replays are refused (pipelines.core.send.receipts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from pipelines.core.common.errors import AuthError
from pipelines.core.send import receipts as webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _apply(pool: Any, body: bytes, signature: str | None, timestamp: str | None) -> dict[str, Any]:
    with pool.connection() as conn:
        return webhooks.apply_receipt(conn, body, signature, timestamp)


_RECEIPT_BODY = {
    "parameters": [
        {
            "name": webhooks.SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "sha256=<HMAC-SHA256 hex de '<X-MCP-Timestamp>.<corpo>' com o segredo do tenant>",
            "schema": {"type": "string", "maxLength": 200},
        },
        {
            "name": webhooks.TIMESTAMP_HEADER,
            "in": "header",
            "required": True,
            "description": "segundos Unix da assinatura (janela de 5 minutos)",
            "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["messageId", "status"],
                    "properties": {
                        "messageId": {"type": "string", "minLength": 1, "maxLength": 200},
                        "status": {"type": "string", "enum": list(webhooks.RECEIPT_STATUSES)},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "error": {"type": ["string", "null"], "maxLength": 2000},
                    },
                }
            }
        },
    },
}


@router.post("/mcp/status", openapi_extra=_RECEIPT_BODY)
async def mcp_status(request: Request) -> dict[str, Any]:
    """delivered/read -> confirmado, failed -> erro; never backwards; repeats and replays are no-ops.
    401 bad or stale signature, 404 unknown messageId (the sender retries), 422 malformed body."""
    body = await request.body()  # the raw bytes are what was signed
    signature = request.headers.get(webhooks.SIGNATURE_HEADER)
    timestamp = request.headers.get(webhooks.TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise AuthError(
            f"cabeçalhos {webhooks.SIGNATURE_HEADER} e {webhooks.TIMESTAMP_HEADER} são obrigatórios"
        )
    return await run_in_threadpool(_apply, request.app.state.pool, body, signature, timestamp)
