"""Dependencies: a pooled connection per request and the tenant of the Bearer API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from pipelines.core.common.errors import AuthError
from pipelines.core.tenancy.tenants import Tenant, authenticate


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """Autocommit connection from the app's pool; writes use `with conn.transaction():`."""
    with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


def current_tenant(request: Request, conn: ConnDep) -> Tenant:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("cabeçalho Authorization ausente; use 'Authorization: Bearer <chave de API>'")
    return authenticate(conn, key.strip())


TenantDep = Annotated[Tenant, Depends(current_tenant)]
