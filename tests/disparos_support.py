"""Shared helpers for the disparo/template/campaign/opt-out/webhook tests: leads seeded with plain SQL
(the ingest pipeline is not what these tests are about)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

_seq = itertools.count(1)


def make_lead(
    conn: psycopg.Connection,
    tenant_id: UUID,
    *,
    nome: str = "Empresa Exemplo Ltda",
    contato_nome: str | None = "joao.silva",
    documento: str | None = None,
    phones: list[tuple[str, str, bool, bool]] | None = None,
    emails: list[tuple[str, bool, bool]] | None = None,
    tags: list[str] | None = None,
    status: str = "novo",
    origem_arquivo: str = "leads.xlsx",
    ingest_job_id: UUID | None = None,
) -> dict[str, Any]:
    """A lead with phones [(telefone, tipo_origem, principal, valido)] and emails [(email, principal, valido)].
    Default: one principal valid mobile. Returns {"lead_id", "telefones": [ids], "emails": [ids]}."""
    n = next(_seq)
    phones = [(f"+55119{n:08d}", "celular", True, True)] if phones is None else phones
    emails = emails or []
    with conn.transaction():
        lead_id = conn.execute(
            """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome,
                                  contato_nome, documento, documento_tipo, status, tags, ingest_job_id)
               VALUES (%s, %s, %s, 'Leads', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING lead_id""",
            (
                tenant_id, f"ext-{n}", origem_arquivo, n + 1, nome, contato_nome, documento,
                ("cpf" if documento else None), status, Jsonb(tags or []), ingest_job_id,
            ),
        ).fetchone()["lead_id"]  # fmt: skip
        tel_ids = [
            conn.execute(
                """INSERT INTO lead_telefones (tenant_id, lead_id, telefone, tipo_origem, telefone_principal,
                                               valido_para_disparo)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING telefone_id""",
                (tenant_id, lead_id, tel, tipo, principal, valido),
            ).fetchone()["telefone_id"]
            for tel, tipo, principal, valido in phones
        ]
        email_ids = [
            conn.execute(
                """INSERT INTO lead_emails (tenant_id, lead_id, email, email_principal, valido_para_disparo)
                   VALUES (%s, %s, %s, %s, %s) RETURNING email_id""",
                (tenant_id, lead_id, email, principal, valido),
            ).fetchone()["email_id"]
            for email, principal, valido in emails
        ]
    return {
        "lead_id": str(lead_id),
        "telefones": [str(t) for t in tel_ids],
        "emails": [str(e) for e in email_ids],
    }


def make_template(
    conn: psycopg.Connection,
    tenant_id: UUID,
    nome: str = "cobranca",
    canal: str = "whatsapp",
    corpo: str = "Olá {{contato_nome}}, a {{nome}} tem {{valor}} em aberto.",
    assunto: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    from pipelines.core.disparos.templates import create_template

    if canal == "email" and assunto is None:
        assunto = "Cobrança {{nome}}"
    return create_template(conn, tenant_id, nome=nome, canal=canal, corpo=corpo, assunto=assunto, **kw)


def wait_for(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll until check() is truthy (returns it) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condição não atingida em {timeout}s (último valor: {value!r})")
        time.sleep(interval)
