"""MCP client (seed section 5): one async httpx transport per worker, bounded concurrency, explicit timeouts.

Every answer is reduced to a `SendResult` with one of three outcomes, so callers decide retries without
looking at HTTP details:
- ``sent``: HTTP 2xx with ``status: sent`` (``messageId`` kept);
- ``retry``: 429 (``Retry-After`` honoured), 5xx, timeouts, connection errors — the same request with the
  same ``Idempotency-Key`` may succeed later;
- ``failed``: any other 4xx, or ``status: failed`` — permanent, retrying will not help.

The bearer token comes from ``Settings.mcp_token`` and is never logged or put in error messages.
Other clients (e.g. calendar) can reuse `McpClient.post_json` for the transport and classification.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from pipelines.core.common.errors import ConfigError, ValidationError
from pipelines.core.common.settings import Settings
from pipelines.core.send.http_transport import LeanAsyncTransport

log = logging.getLogger(__name__)

_SSL: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """Built once per process (loading the CA bundle costs ~20 ms)."""
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL


CANAIS = ("whatsapp", "email")


def check_canal(canal: Any, field: str = "canal") -> str:
    """A sending channel, or a 422 naming the field."""
    if canal not in CANAIS:
        raise ValidationError(f"canal inválido: {canal!r}; use whatsapp ou email", field=field)
    return canal


_PATHS = {"whatsapp": "/mcp/whatsapp/send", "email": "/mcp/email/send"}


@dataclass(frozen=True)
class SendResult:
    outcome: str  # "sent" | "retry" | "failed"
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait (429 / 503 Retry-After)
    http_status: int | None = None
    body: dict[str, Any] | None = None  # the decoded JSON answer, when there was one

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


def endpoint_for(settings: Settings, canal: str) -> str | None:
    if canal == "whatsapp":
        return settings.mcp_whatsapp_endpoint
    if canal == "email":
        return settings.mcp_email_endpoint
    if canal == "calendar":
        return settings.mcp_calendar_endpoint
    raise ConfigError(f"canal MCP desconhecido: {canal!r}")


_ENV = {"whatsapp": "MCP_WHATSAPP_ENDPOINT", "email": "MCP_EMAIL_ENDPOINT"}


def send_url(settings: Settings, canal: str) -> str:
    """The send URL of a channel; a clear ConfigError when its endpoint is unset or not http(s)."""
    if canal not in _PATHS:
        raise ConfigError(f"canal MCP desconhecido: {canal!r}")
    base = endpoint_for(settings, canal)
    if not base:
        raise ConfigError(f"endpoint MCP de {canal} não configurado (defina {_ENV[canal]})")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{_ENV[canal]} deve começar com http:// ou https:// (recebido {base!r})")
    return base.rstrip("/") + _PATHS[canal]


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(status: int, body: Any, headers: httpx.Headers | dict[str, str] | None = None) -> SendResult:
    """Map one HTTP answer to an outcome (pure, so it is tested without a server)."""
    data = body if isinstance(body, dict) else None
    error = None
    if data is not None:
        error = data.get("error") or data.get("detail")
        if error is not None and not isinstance(error, str):
            error = str(error)
    retry_after = None
    if headers is not None:
        lowered = (
            headers if isinstance(headers, httpx.Headers) else {k.lower(): v for k, v in headers.items()}
        )
        retry_after = parse_retry_after(lowered.get("retry-after"))
    if status == 429:
        return SendResult(
            "retry", None, error or "HTTP 429 (limite de taxa do MCP)", retry_after, status, data
        )
    if status >= 500:
        return SendResult("retry", None, error or f"HTTP {status} do MCP", retry_after, status, data)
    if status >= 400:
        return SendResult("failed", None, error or f"HTTP {status} do MCP", None, status, data)
    if data is None:
        return SendResult(
            "retry", None, f"resposta inválida do MCP (HTTP {status}, corpo não JSON)", None, status
        )
    message_id = data.get("messageId")
    if data.get("status") == "failed":
        return SendResult(
            "failed", message_id, error or "MCP recusou a mensagem (status failed)", None, status, data
        )
    if data.get("status", "sent") == "sent" and message_id:
        return SendResult("sent", str(message_id), None, None, status, data)
    return SendResult("retry", None, f"resposta inesperada do MCP: {str(data)[:200]}", None, status, data)


class McpClient:
    """Async MCP client; use as ``async with McpClient(settings) as mcp: await mcp.send_whatsapp(...)``.

    One httpx transport per worker, `LeanAsyncTransport` (one write per request, no anyio layers: the
    default httpx stack costs several times more CPU per request, see pipelines/core/send/http_transport.py),
    driven with plain `httpx.Request`/`httpx.Response` objects (the AsyncClient layer — cookies, redirects,
    auth flows — is not needed here and cost ~0.1 ms per request). At most ``concurrency`` requests in
    flight, each with explicit connect/read/write timeouts.
    """

    def __init__(self, settings: Settings, *, concurrency: int = 50, timeout: float = 10.0) -> None:
        if concurrency < 1:
            raise ConfigError("concurrency deve ser >= 1")
        self.settings = settings
        self.concurrency = concurrency
        self.timeout = timeout
        self._sem: asyncio.Semaphore | None = None
        self._transport: LeanAsyncTransport | None = None
        self._headers: dict[str, str] = {}
        self._timeouts: dict[str, float | None] = {}
        self._urls: dict[str, httpx.URL] = {}

    async def __aenter__(self) -> McpClient:
        headers = {"Content-Type": "application/json", "User-Agent": "agente-disparo-agenda/0.1"}
        if self.settings.mcp_token:
            headers["Authorization"] = f"Bearer {self.settings.mcp_token}"
        self._headers = headers
        self._timeouts = {
            "connect": min(self.timeout, 5.0),
            "read": self.timeout,
            "write": self.timeout,
            "pool": None,
        }
        self._sem = asyncio.Semaphore(self.concurrency)
        self._transport = LeanAsyncTransport(max_connections=self.concurrency, ssl_context=_ssl_context())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    def url_for(self, canal: str) -> str:
        return send_url(self.settings, canal)

    async def post_json(
        self, url: str, body: dict[str, Any], *, idempotency_key: str | None = None
    ) -> SendResult:
        """POST a JSON body and classify the answer; transport errors become ``retry``."""
        if self._transport is None or self._sem is None:
            raise RuntimeError("McpClient must be used as 'async with McpClient(...)'")
        headers = {**self._headers, "Idempotency-Key": idempotency_key} if idempotency_key else self._headers
        content = json.dumps(body, ensure_ascii=False).encode()
        target = self._urls.get(url)
        if target is None:
            target = self._urls[url] = httpx.URL(url)
        async with self._sem:
            try:
                request = httpx.Request(
                    "POST", target, headers=headers, content=content, extensions={"timeout": self._timeouts}
                )
                resp = await self._transport.handle_async_request(request)
            except httpx.TimeoutException:
                return SendResult("retry", None, f"timeout após {self.timeout:g} s no MCP")
            except httpx.TransportError as exc:
                return SendResult("retry", None, f"erro de conexão com o MCP: {type(exc).__name__}")
        try:
            data = resp.json()
        except ValueError:
            data = None
        return classify(resp.status_code, data, resp.headers)

    async def send(self, canal: str, request: dict[str, Any], idempotency_key: str) -> SendResult:
        """Send one seed-shaped request (``{"to", "message", ...}`` or ``{"to", "subject", "body", ...}``)."""
        return await self.post_json(self.url_for(canal), request, idempotency_key=idempotency_key)

    async def send_whatsapp(
        self,
        to: str,
        message: str,
        *,
        idempotency_key: str,
        template_id: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> SendResult:
        return await self.send(
            "whatsapp", whatsapp_request(to, message, template_id, variables), idempotency_key
        )

    async def send_email(
        self,
        to: str,
        subject: str,
        body: str,
        *,
        idempotency_key: str,
        html: str | None = None,
        template_id: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> SendResult:
        return await self.send(
            "email", email_request(to, subject, body, html, template_id, variables), idempotency_key
        )


def _variables(variables: dict[str, Any] | None) -> dict[str, str] | None:
    if not variables:
        return None
    return {str(k): "" if v is None else str(v) for k, v in variables.items()}


def whatsapp_request(
    to: str, message: str, template_id: str | None = None, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    req: dict[str, Any] = {"to": to, "message": message}
    if template_id:
        req["templateId"] = template_id
    if (v := _variables(variables)) is not None:
        req["variables"] = v
    return req


def email_request(
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    template_id: str | None = None,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    req: dict[str, Any] = {"to": to, "subject": subject, "body": body}
    if html:
        req["html"] = html
    if template_id:
        req["templateId"] = template_id
    if (v := _variables(variables)) is not None:
        req["variables"] = v
    return req


def request_from_disparo(
    canal: str, destino: str, template: str, payload: dict[str, Any] | None
) -> dict[str, Any]:
    """Build the MCP request of a disparo from its destino and payload (rendered by the creation side)."""
    p = payload or {}
    mensagem = p.get("mensagem") or template
    if canal == "whatsapp":
        return whatsapp_request(destino, mensagem, p.get("template_id"), p.get("variaveis"))
    if canal == "email":
        return email_request(
            destino,
            p.get("assunto") or template,
            mensagem,
            p.get("html"),
            p.get("template_id"),
            p.get("variaveis"),
        )
    raise ConfigError(f"canal desconhecido: {canal!r}")
