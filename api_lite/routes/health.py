from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api_lite.deps import ConnDep, TenantDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(conn: ConnDep) -> dict[str, Any]:
    """Liveness plus a database round trip."""
    conn.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}


@router.get("/me")
def me(tenant: TenantDep) -> dict[str, Any]:
    """The tenant of the calling API key (handy to check a key)."""
    return tenant.as_dict()
