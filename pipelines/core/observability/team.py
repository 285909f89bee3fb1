"""Messages to a tenant's team (`tenants.equipe_canal` / `equipe_destino`, e-mail or WhatsApp) through the
MCP: alarm notifications and the DLQ digest. One message per call, with the caller's Idempotency-Key."""

from __future__ import annotations

import asyncio

from pipelines.core.common.settings import Settings
from pipelines.core.send.mcp import McpClient, SendResult


def no_team_channel(slug: str) -> str:
    return f"tenant sem canal da equipe: `tenant set {slug} --equipe-canal email --equipe-destino …`"


async def _send(
    settings: Settings, canal: str, destino: str, subject: str, text: str, key: str
) -> SendResult:
    try:
        async with McpClient(settings, concurrency=1) as mcp:
            if canal == "whatsapp":
                return await mcp.send_whatsapp(destino, f"{subject}\n{text}", idempotency_key=key)
            return await mcp.send_email(destino, subject, text, idempotency_key=key)
    except Exception as exc:  # an endpoint not configured: the caller keeps the message owed
        return SendResult("retry", None, f"{type(exc).__name__}: {exc}")


def send_team_message(
    settings: Settings, canal: str, destino: str, subject: str, text: str, *, idempotency_key: str
) -> SendResult:
    """Send one message to the team (synchronous: sensors and ops call it)."""
    return asyncio.run(_send(settings, canal, destino, subject, text, idempotency_key))
