"""Mart test helpers: build days through the core, count the same facts straight from PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines.core.reports.build import build_day
from pipelines.core.reports.mart import Mart


def build(conn, url: str, root: Path, dia: date, subjects: tuple[str, ...] = ("funil",)) -> Mart:
    mart = Mart(root)
    for subject in subjects:
        build_day(conn, url, mart, subject, dia)
    return mart


def pg_funnel(conn, tenant_id, dia: date) -> dict[tuple[str, str | None], dict[str, int]]:
    """Counts per (canal, campanha_id) of the tenant's disparos created on `dia` in its time zone, read from
    PostgreSQL directly (the oracle the mart is compared with)."""
    rows = conn.execute(
        """SELECT d.canal, d.campanha_id::text AS campanha_id, count(*) AS criados,
                  count(*) FILTER (WHERE d.status IN ('pendente', 'enviando')) AS pendentes,
                  count(*) FILTER (WHERE d.data_envio IS NOT NULL) AS enviados,
                  count(*) FILTER (WHERE d.status = 'confirmado') AS confirmados,
                  count(*) FILTER (WHERE d.status = 'erro') AS erro,
                  count(*) FILTER (WHERE d.status = 'bloqueado') AS bloqueado,
                  count(*) FILTER (WHERE d.status = 'cancelado') AS cancelado,
                  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM disparos_dlq q WHERE q.disparo_id = d.disparo_id)) AS dlq
           FROM disparos d JOIN tenants t ON t.id = d.tenant_id
           WHERE d.tenant_id = %s AND (d.created_at AT TIME ZONE t.timezone)::date = %s
           GROUP BY 1, 2""",
        (tenant_id, dia),
    ).fetchall()
    return {
        (r["canal"], r["campanha_id"]): {k: v for k, v in r.items() if k not in ("canal", "campanha_id")}
        for r in rows
    }


def mart_funnel(table) -> dict[tuple[str, str | None], dict[str, int]]:
    keys = ("criados", "pendentes", "enviados", "confirmados", "erro", "bloqueado", "cancelado", "dlq")
    out = {}
    for row in table.to_pylist():
        campanha = str(row["campanha_id"]) if row["campanha_id"] else None
        out[(row["canal"], campanha)] = {k: row[k] for k in keys}
    return out
