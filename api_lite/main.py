"""api_lite: the FastAPI app. Routers are discovered in api_lite/routes/<name>.py (`router`)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

import api_lite.routes
from api_lite import contract, problems
from api_lite.limits import BodyLimitMiddleware
from pipelines.core.common.db import database_url
from pipelines.core.common.logs import configure_logging

log = logging.getLogger("api_lite")
# How long a request waits for a pooled connection; while the database is down that wait ends in a 503.
POOL_TIMEOUT_S = 10.0


def create_app(
    dsn: str | None = None, *, min_size: int = 1, max_size: int = 10, pool_timeout: float = POOL_TIMEOUT_S
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(
            dsn or database_url(),
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            # A connection broken by a database restart is replaced on checkout, not handed to a request.
            check=ConnectionPool.check_connection,
            timeout=pool_timeout,
            open=False,
        )
        configure_logging(service="api")
        pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            for hook in getattr(app.state, "shutdown_hooks", []):
                hook()
            pool.close()

    app = FastAPI(
        title="agente-disparo-agenda",
        version="0.1.0",
        description="Ingestão de leads, disparos e agendamentos. Autenticação: `Authorization: Bearer <chave>`.",
        lifespan=lifespan,
    )
    app.state.shutdown_hooks = []
    problems.install(app)
    routes: list[APIRoute] = []
    for module in sorted(pkgutil.iter_modules(api_lite.routes.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"api_lite.routes.{module.name}")
        app.include_router(mod.router, responses=contract.ERROR_RESPONSES)
        routes.extend(r for r in mod.router.routes if isinstance(r, APIRoute))
    contract.document_errors(app)
    app.add_middleware(BodyLimitMiddleware, routes=routes)
    return app
