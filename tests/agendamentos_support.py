"""Helpers for the agendamento tests: leads seeded with plain SQL, the MCP simulator in a thread, settings
pointing at it, and a clock for reminder timing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg

from pipelines.core.common.settings import Settings

_seq = itertools.count(1)


def make_lead(
    conn: psycopg.Connection,
    tenant_id: UUID,
    *,
    nome: str = "Padaria Boa Massa Ltda",
    status: str = "novo",
    telefone: str | None = "auto",
    email: str | None = None,
) -> str:
    n = next(_seq)
    with conn.transaction():
        lead_id = conn.execute(
            """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome,
                                  contato_nome, status)
               VALUES (%s, %s, 'leads.xlsx', 'Leads', %s, %s, 'maria', %s) RETURNING lead_id""",
            (tenant_id, f"ag-{n}", n + 1, nome, status),
        ).fetchone()["lead_id"]
        if telefone:
            conn.execute(
                "INSERT INTO lead_telefones (tenant_id, lead_id, telefone, telefone_principal) VALUES (%s, %s, %s, TRUE)",
                (tenant_id, lead_id, f"+55119{n:08d}" if telefone == "auto" else telefone),
            )
        if email:
            conn.execute(
                "INSERT INTO lead_emails (tenant_id, lead_id, email, email_principal) VALUES (%s, %s, %s, TRUE)",
                (tenant_id, lead_id, email),
            )
    return str(lead_id)


def future(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def sim_settings(url: str, *, calendar: bool = True) -> Settings:
    return Settings.from_env().model_copy(
        update={
            "mcp_whatsapp_endpoint": url,
            "mcp_email_endpoint": url,
            "mcp_calendar_endpoint": url if calendar else None,
            "mcp_token": None,
        }
    )


def sim_messages(url: str, **params: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/sim/messages", params=params, timeout=5).json()["items"]


def sim_events(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/sim/calendar/events", timeout=5).json()["items"]
