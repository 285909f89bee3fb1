"""Idempotency-Key for creating requests (disparos, agendamentos): the same key with the same request
returns the first response; with a different request it is a 409. The key row is written in the same
transaction as what it creates, so a failed request leaves no key behind, and a concurrent request with
the same key waits for the first one and then sees its row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from pipelines.core.common.errors import ConflictError, ValidationError


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


def request_digest(scope: str, body: Any) -> str:
    """Hash of what the request asks for: an endpoint scope (e.g. "disparo:<lead_id>") and its body."""
    canonical = json.dumps({"scope": scope, "body": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationError("Idempotency-Key deve ter de 1 a 255 caracteres", field="Idempotency-Key")
    return key


def run_idempotent(
    conn: psycopg.Connection,
    tenant_id: UUID,
    key: str | None,
    digest: str,
    create: Callable[[], dict[str, Any]],
    *,
    disparo_id_of: Callable[[dict[str, Any]], Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Run `create` once per (tenant, key); returns (response, created). Without a key, just creates."""
    key = check_key(key)
    with conn.transaction():
        if key is not None:
            claimed = conn.execute(
                """INSERT INTO idempotency_keys (tenant_id, chave, body_sha256) VALUES (%s, %s, %s)
                   ON CONFLICT (tenant_id, chave) DO NOTHING RETURNING chave""",
                (tenant_id, key, digest),
            ).fetchone()
            if claimed is None:
                prior = conn.execute(
                    "SELECT body_sha256, resposta FROM idempotency_keys WHERE tenant_id = %s AND chave = %s",
                    (tenant_id, key),
                ).fetchone()
                if prior["body_sha256"] != digest:
                    raise ConflictError(
                        "Idempotency-Key já usada com outro corpo de requisição; use uma chave nova",
                        field="Idempotency-Key",
                    )
                return dict(prior["resposta"]), False
        response = create()
        if key is not None:
            conn.execute(
                """UPDATE idempotency_keys SET status_code = 201, resposta = %s, disparo_id = %s
                   WHERE tenant_id = %s AND chave = %s""",
                (
                    Jsonb(response, dumps=_dumps),
                    disparo_id_of(response) if disparo_id_of else None,
                    tenant_id,
                    key,
                ),
            )
    return response, True
