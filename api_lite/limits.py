"""Request bodies are bounded and authenticated before they are read.

An ASGI middleware in front of every route, for requests that carry a body (POST, PUT, PATCH, DELETE):

1. the route's body limit — the spreadsheet upload gets `DISPARO_AGENDA_MAX_UPLOAD_MB` (plus the
   multipart overhead), every other route `DISPARO_AGENDA_MAX_BODY_KB` — refuses a declared
   `Content-Length` above it with 413 before anything is read;
2. the caller is authenticated before the first body byte is read: routes that take the Bearer API key
   check it here (the tenant is handed to `api_lite.deps.current_tenant`, so it costs no second look-up);
   the MCP webhook, signed over its body, must at least carry a well-formed, fresh `X-MCP-Timestamp`
   and an `X-MCP-Signature`. A refusal is a 401 and the body is never read;
3. the body is counted as it streams (chunked uploads included) and the request is cut with 413 as soon
   as it passes the limit, so nothing is buffered beyond it.

Each refusal is problem+json, like every other error of the API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_lite import problems
from pipelines.core.common.errors import AuthError, DisparoAgendaError
from pipelines.core.common.settings import Settings

log = logging.getLogger("api_lite.limits")

UPLOAD_ROUTES = {("POST", "/ingest/leads/xlsx")}  # multipart spreadsheet uploads
WEBHOOK_ROUTES = {("POST", "/webhooks/mcp/status")}  # signed by the MCP server, no API key
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the small form fields
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TENANT_STATE = "authenticated_tenant"  # scope["state"] key read by api_lite.deps.current_tenant


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the limit; an HTTPException, so FastAPI's body parsing
    lets it through to the problem+json handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"corpo da requisição maior que o limite de {_size(limit)}")


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB"


def body_limit(settings: Settings, method: str, path_template: str | None) -> int:
    """The largest body a route accepts, in bytes."""
    if (method, path_template) in UPLOAD_ROUTES:
        return settings.max_upload_bytes + MULTIPART_OVERHEAD
    return settings.max_body_bytes


def _needs_tenant(route: APIRoute) -> bool:
    """Whether the route depends (at any depth) on the Bearer API key."""
    from api_lite.deps import current_tenant

    pending = [route.dependant]
    while pending:
        dep = pending.pop()
        if dep.call is current_tenant:
            return True
        pending.extend(dep.dependencies)
    return False


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, routes: list[APIRoute]) -> None:
        self.app = app
        self.routes = routes  # the API's routes, matched here before the router sees the request
        self._tenant_routes: dict[int, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        route = self._route(scope)
        template = route.path if route is not None else None
        limit = body_limit(Settings.from_env(), scope["method"], template)
        try:
            declared = int(headers["content-length"]) if "content-length" in headers else None
        except ValueError:
            declared = None
        try:
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            has_body = bool(declared) or "chunked" in headers.get("transfer-encoding", "").lower()
            if route is not None and has_body:
                await self._authenticate(scope, route, headers)
        except DisparoAgendaError as exc:
            await self._refuse(
                scope, send, exc.status_code, exc.title, exc.message, auth=exc.status_code == 401
            )
            return
        except HTTPException as exc:
            await self._refuse(scope, send, exc.status_code, "Conteúdo grande demais", str(exc.detail))
            return
        except Exception as exc:  # the database, while authenticating
            response = problems.unexpected_response(scope.get("path", ""), exc)
            await response(scope, receive, send)
            return

        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._refuse(scope, send, 413, "Conteúdo grande demais", str(exc.detail))

    def _route(self, scope: Scope) -> APIRoute | None:
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    async def _authenticate(self, scope: Scope, route: APIRoute, headers: dict[str, str]) -> None:
        if (scope["method"], route.path) in WEBHOOK_ROUTES:
            _check_webhook_headers(headers)
            return
        needs = self._tenant_routes.get(id(route))
        if needs is None:
            needs = self._tenant_routes[id(route)] = _needs_tenant(route)
        if not needs:
            return
        key = bearer_key(headers.get("authorization", ""))
        pool = scope["app"].state.pool
        tenant = await run_in_threadpool(_authenticate, pool, key)
        scope.setdefault("state", {})[TENANT_STATE] = tenant

    async def _refuse(
        self, scope: Scope, send: Send, status: int, title: str, detail: str, *, auth: bool = False
    ) -> None:
        response = problems.problem(status, title, detail, instance=scope.get("path"))
        if auth:
            response.headers["WWW-Authenticate"] = "Bearer"
        # The body was not read: tell the client the connection will not be reused for another request.
        response.headers["Connection"] = "close"

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


def bearer_key(header: str) -> str:
    """The API key of an `Authorization: Bearer <key>` header, or a 401."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("cabeçalho Authorization ausente; use 'Authorization: Bearer <chave de API>'")
    return key.strip()


def _authenticate(pool: Any, key: str) -> Any:
    from pipelines.core.tenancy.tenants import authenticate

    with pool.connection() as conn:
        return authenticate(conn, key)


def _check_webhook_headers(headers: dict[str, str]) -> None:
    """The signature cannot be checked before the body it signs; its headers can."""
    from pipelines.core.send import receipts

    receipts._signed_at(headers.get(receipts.TIMESTAMP_HEADER.lower()), datetime.now(UTC))
    if not headers.get(receipts.SIGNATURE_HEADER.lower(), "").strip():
        raise AuthError(f"assinatura {receipts.SIGNATURE_HEADER} ausente ou inválida")
