"""Prometheus text metrics: queue depth and outcomes, aggregated over all tenants (no tenant labels, so
the endpoint reveals nothing about any one tenant)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api_lite.deps import ConnDep

router = APIRouter(tags=["metrics"])

_QUERIES = {
    "disparo_agenda_disparos": (
        "Disparos por canal e status.",
        "SELECT canal, status, count(*) AS n FROM disparos GROUP BY canal, status ORDER BY 1, 2",
        ("canal", "status"),
    ),
    "disparo_agenda_disparos_devidos": (
        "Disparos pendentes já devidos (fila a enviar agora).",
        "SELECT canal, count(*) AS n FROM disparos WHERE status = 'pendente' AND data_agendado <= now() "
        "GROUP BY canal ORDER BY 1",
        ("canal",),
    ),
    "disparo_agenda_dlq": (
        "Disparos na dead-letter queue ainda não re-enviados.",
        "SELECT canal, count(*) AS n FROM disparos_dlq WHERE redrive_em IS NULL GROUP BY canal ORDER BY 1",
        ("canal",),
    ),
    "disparo_agenda_ingest_jobs": (
        "Jobs de ingestão por status.",
        "SELECT status, count(*) AS n FROM ingest_jobs GROUP BY status ORDER BY 1",
        ("status",),
    ),
    "disparo_agenda_agendamentos": (
        "Agendamentos por status.",
        "SELECT status, count(*) AS n FROM agendamentos GROUP BY status ORDER BY 1",
        ("status",),
    ),
}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(conn: ConnDep) -> PlainTextResponse:
    lines: list[str] = []
    for name, (help_text, query, labels) in _QUERIES.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for row in conn.execute(query).fetchall():
            label = ",".join(f'{k}="{row[k]}"' for k in labels)
            lines.append(f"{name}{{{label}}} {row['n']}")
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
