"""MCP client (seed section 5): one `aiohttp.ClientSession` per worker, bounded concurrency, explicit timeouts.

Every answer is reduced to a `SendResult` with one of three outcomes, so callers decide retries without
looking at HTTP details:
- ``sent``: HTTP 2xx with ``status: sent`` (``messageId`` kept);
- ``retry``: 429 (``Retry-After`` honoured), 5xx, timeouts, connection errors — the same request with the
  same ``Idempotency-Key`` may succeed later;
- ``failed``: any other 4xx, or ``status: failed`` — permanent, retrying will not help.

The bearer token comes from ``Settings.mcp_token`` and is never logged or put in error messages.
Other clients can reuse `McpClient.post_json` for the transport and classification.

Why aiohttp and not httpx (the rest of the project's HTTP client): measured against the simulator, httpx
0.28's async stack (httpcore's connection pool scans every in-flight request against every connection on
each assignment, plus anyio) cost 1.5–3.5 ms of CPU per request at 50 in flight, which caps one worker
far below 1,000 sends/s; aiohttp's keep-alive pool (C HTTP parser) costs ~0.2 ms. Figures in BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from pipelines.core.common.errors import ConfigError, ValidationError
from pipelines.core.common.settings import Settings

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


def classify(status: int, body: Any, headers: Mapping[str, str] | None = None) -> SendResult:
    """Map one HTTP answer to an outcome (pure, so it is tested without a server)."""
    data = body if isinstance(body, dict) else None
    error = None
    if data is not None:
        error = data.get("error") or data.get("detail")
        if error is not None and not isinstance(error, str):
            error = str(error)
    retry_after = None
    if headers is not None:  # any mapping; header names are case-insensitive
        retry_after = parse_retry_after(
            next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        )
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

    One `aiohttp.ClientSession` per worker: a keep-alive connection pool sized to ``concurrency`` (a
    connection goes back to the pool after each answer and carries the next request), HTTP/1.1, no
    redirects, no proxy or ``.netrc`` from the environment (the endpoints are configured explicitly). At
    most ``concurrency`` requests in flight (a semaphore in front of the pool), each with explicit
    timeouts: connect ``min(timeout, 5 s)``, then ``timeout`` between bytes of the answer. A reused
    keep-alive connection that the server had already closed is retried once at once on a fresh one (safe:
    the request carries its Idempotency-Key); any other transport error is a ``retry`` outcome.
    """

    def __init__(self, settings: Settings, *, concurrency: int = 50, timeout: float = 10.0) -> None:
        if concurrency < 1:
            raise ConfigError("concurrency deve ser >= 1")
        self.settings = settings
        self.concurrency = concurrency
        self.timeout = timeout
        self._sem: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> McpClient:
        headers = {"Content-Type": "application/json", "User-Agent": "agente-disparo-agenda/0.1"}
        if self.settings.mcp_token:
            headers["Authorization"] = f"Bearer {self.settings.mcp_token}"
        self._sem = asyncio.Semaphore(self.concurrency)
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(
                limit=self.concurrency, limit_per_host=self.concurrency, ssl=_ssl_context()
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=min(self.timeout, 5.0), sock_read=self.timeout
            ),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def url_for(self, canal: str) -> str:
        return send_url(self.settings, canal)

    async def post_json(
        self, url: str, body: dict[str, Any], *, idempotency_key: str | None = None
    ) -> SendResult:
        """POST a JSON body and classify the answer; transport errors become ``retry``."""
        if self._session is None or self._sem is None:
            raise RuntimeError("McpClient must be used as 'async with McpClient(...)'")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        content = json.dumps(body, ensure_ascii=False).encode()
        async with self._sem:
            for attempt in (0, 1):
                try:
                    async with self._session.post(
                        url, data=content, headers=headers, allow_redirects=False
                    ) as resp:
                        raw = await resp.read()
                        status, answer_headers = resp.status, resp.headers
                    break
                except TimeoutError:  # aiohttp's timeouts subclass it
                    return SendResult("retry", None, f"timeout após {self.timeout:g} s no MCP")
                except aiohttp.ServerDisconnectedError:
                    if attempt == 0 and idempotency_key:
                        continue  # a stale keep-alive connection: once more on a fresh one
                    return SendResult("retry", None, "erro de conexão com o MCP: ServerDisconnectedError")
                except aiohttp.ClientError as exc:
                    return SendResult("retry", None, f"erro de conexão com o MCP: {type(exc).__name__}")
        try:
            data = json.loads(raw)
        except ValueError:  # also UnicodeDecodeError
            data = None
        return classify(status, data, answer_headers)

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
