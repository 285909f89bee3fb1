"""RFC 9457 problem+json for every error; never a traceback, never a bare 500 page."""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.core.common.errors import DisparoAgendaError

log = logging.getLogger("api_lite")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    @app.exception_handler(DisparoAgendaError)
    async def _domain(request: Request, exc: DisparoAgendaError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        resp = problem(exc.status_code, exc.title, exc.message, field=exc.field, instance=request.url.path)
        if headers:
            resp.headers.update(headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in _LOCATIONS and not _is_union_tag(p)]
            if str(err.get("type", "")).startswith("json"):
                loc = []  # a body that is not JSON at all: no field to name
            errors.append({"field": ".".join(loc) or None, "message": err.get("msg")})
        first = errors[0] if errors else {"field": None, "message": "requisição inválida"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        return problem(
            422, "Dados inválidos", detail, field=first["field"], errors=errors, instance=request.url.path
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "erro"
        resp = problem(
            exc.status_code, _TITLES.get(exc.status_code, "Erro"), detail, instance=request.url.path
        )
        if exc.headers:
            resp.headers.update(exc.headers)
        if exc.status_code == 405:
            resp.headers["Allow"] = ", ".join(_allowed_methods(request))
        return resp

    # Registered by class (not only through the catch-all below, which Starlette re-raises after
    # answering): a database that is down is an expected condition, answered 503 and not logged as a crash.
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg.InterfaceError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_response(request.url.path, exc, request.method)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_response(request.url.path, exc, request.method)


RETRY_AFTER_S = 5  # what a 503 asks the client to wait while the database is unreachable


def database_unavailable(exc: BaseException) -> bool:
    """The database is down, restarting or unreachable (or the pool could not get a connection in time):
    a 503 the client can retry, not a bug. psycopg_pool.PoolTimeout is an OperationalError."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def unexpected_response(path: str, exc: BaseException, method: str = "") -> JSONResponse:
    """503 + Retry-After when the database is unavailable, else a generic 500 (never a traceback)."""
    if database_unavailable(exc):
        log.warning("banco de dados indisponível em %s %s: %s", method, path, type(exc).__name__)
        resp = problem(
            503,
            "Serviço indisponível",
            "banco de dados indisponível no momento; tente de novo em alguns segundos",
            instance=path,
        )
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp
    log.error("erro inesperado em %s %s: %s", method, path, type(exc).__name__)
    return problem(500, "Erro interno", "erro interno inesperado; tente novamente", instance=path)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the contract documents for this path (routes sharing a path are separate routes, so
    the router alone would name only the first one's)."""
    methods: set[str] = set()
    for path, ops in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)), request.url.path):
            methods |= {m.upper() for m in ops}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


_LOCATIONS = ("body", "query", "path", "header")
# pydantic names the member of a union an error came from ("str", "literal['a','b']", "list[...]"):
# not part of the field's path
_TYPE_TAGS = {
    "str",
    "int",
    "float",
    "bool",
    "date",
    "datetime",
    "list",
    "dict",
    "none",
    "uuid",
    "tagged-union",
}


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in _TYPE_TAGS or part.startswith("constrained-"))


_TITLES = {
    400: "Requisição inválida",
    401: "Não autorizado",
    404: "Não encontrado",
    405: "Método não permitido",
    409: "Conflito",
    413: "Conteúdo grande demais",
    415: "Tipo de mídia não suportado",
    422: "Dados inválidos",
    429: "Requisições demais",
    503: "Serviço indisponível",
}
