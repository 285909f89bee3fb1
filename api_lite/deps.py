"""Dependencies: a pooled connection per request and the tenant of the Bearer API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api_lite.limits import TENANT_STATE, bearer_key
from api_lite.ratelimit import key_id, limiter_for
from pipelines.core.common.db import act_as_tenant, leave_tenant
from pipelines.core.tenancy.tenants import Tenant, authenticate


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """Autocommit connection from the app's pool; writes use `with conn.transaction():`."""
    with request.app.state.pool.connection() as conn:
        try:
            yield conn
        finally:
            if getattr(request.state, "tenant_scoped", False):
                leave_tenant(conn)  # undo current_tenant's act_as_tenant before the pool reuses it


ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


# Declares the Bearer scheme in /openapi.json; the header is checked below so the 401 says what is wrong.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="chaveDeApi",
    description="`Authorization: Bearer <chave de API>` (crie com `disparo-agenda tenant key-create`)",
)


def current_tenant(
    request: Request,
    conn: ConnDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Tenant:
    # A request with a body was already authenticated by api_lite.limits, before its body was read.
    key = bearer_key(request.headers.get("authorization", ""))
    tenant = getattr(request.state, TENANT_STATE, None)
    if tenant is None:
        tenant = authenticate(conn, key)
    limiter_for(request.app).hit(key_id(key))  # 429 + Retry-After over the key's rate limit
    request.state.tenant_scoped = True
    act_as_tenant(conn, tenant.id)  # row-level security: the rest of the request sees only this tenant
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]
