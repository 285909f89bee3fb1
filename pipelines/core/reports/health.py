"""What the operator watches on the product's tables: a cheap observation of each (row estimate, size,
change counters as its version) and the health checks on the send queue and the ingest — read from
PostgreSQL's statistics and indexes, never by scanning a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from pipelines.core.common.queries import query

TABLES = ("leads", "lead_telefones", "lead_emails", "disparos", "disparos_dlq", "agendamentos")


@dataclass(frozen=True)
class Limits:
    """Thresholds of the health checks (the defaults are what docs/dagster.md states)."""

    dlq_novas: int = 50  # new DLQ entries in the window before it counts as growing
    dlq_janela_minutos: int = 60
    lease_tolerancia_minutos: int = 5  # expired lease nobody took back
    atraso_max_minutos: int = 15  # oldest due but unsent disparo
    ingest_janela_horas: int = 24  # failed ingest jobs this recent
    ingest_parado_minutos: int = 30  # a job processando with no progress this long


@dataclass
class Check:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    detail: list[dict[str, Any]] = field(default_factory=list)


def table_stats(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute(query("reports", "table_stats"), {"tabelas": list(TABLES)}).fetchall()
    stats = {r["tabela"]: dict(r) for r in rows}
    for s in stats.values():
        s["versao"] = f"{s['inseridas']}:{s['atualizadas']}:{s['excluidas']}"
    return stats


def dlq_growing(conn: psycopg.Connection, limits: Limits) -> Check:
    row = conn.execute(query("reports", "dlq_growth"), {"minutos": limits.dlq_janela_minutos}).fetchone()
    return Check(
        passed=row["novas"] <= limits.dlq_novas,
        metadata={
            "novas": row["novas"],
            "janela_minutos": limits.dlq_janela_minutos,
            "limite": limits.dlq_novas,
            "abertas": row["abertas"],
        },
    )


def stuck_leases(conn: psycopg.Connection, limits: Limits) -> Check:
    row = conn.execute(
        query("reports", "stuck_leases"), {"minutos": limits.lease_tolerancia_minutos}
    ).fetchone()
    return Check(
        passed=row["presos"] == 0,
        metadata={
            "presos": row["presos"],
            "mais_antigo_s": round(row["mais_antigo_s"] or 0.0, 1),
            "tolerancia_minutos": limits.lease_tolerancia_minutos,
        },
    )


def oldest_due(conn: psycopg.Connection, limits: Limits) -> Check:
    rows = [dict(r) for r in conn.execute(query("reports", "oldest_due")).fetchall()]
    worst = rows[0]["atraso_s"] if rows else 0.0
    return Check(
        passed=worst <= limits.atraso_max_minutos * 60,
        metadata={"atraso_s": round(worst, 1), "limite_s": limits.atraso_max_minutos * 60},
        detail=[{**r, "atraso_s": round(r["atraso_s"], 1)} for r in rows],
    )


def failed_ingests(conn: psycopg.Connection, limits: Limits) -> Check:
    rows = conn.execute(
        query("reports", "failed_ingest_jobs"),
        {"horas": limits.ingest_janela_horas, "parado_minutos": limits.ingest_parado_minutos},
    ).fetchall()
    detail = [{**dict(r), "job_id": str(r["job_id"])} for r in rows]
    return Check(
        passed=not detail,
        metadata={"jobs": len(detail), "janela_horas": limits.ingest_janela_horas},
        detail=detail,
    )
