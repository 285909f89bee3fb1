"""The seed's metrics (section 7.1) in Prometheus form, counted from the database at scrape time, so the
API, the workers, the CLI and Dagster runs — every process that writes — agree without sharing memory.

| metric | type | labels | what |
|---|---|---|---|
| `IngestJobsCompleted_total` | counter | tenant_id, status | ingest jobs that ended (`concluido`, `erro`) |
| `LeadsCreated_total` | counter | tenant_id, origem | leads created by ingest jobs, per job origin |
| `DisparosSent_total` | counter | tenant_id, canal | disparos the MCP server accepted |
| `DisparosFailedRate` | gauge (%) | tenant_id, canal | final failures / (accepted + final failures), last 5 min |
| `AgendamentosCriados_total` | counter | tenant_id, tipo, canal | agendamentos created |

The seed's `OrigemArquivo` dimension (a file name: unbounded cardinality) is the job's origin here.
Aggregates without tenant labels (queue depth, DLQ, statuses) follow as `disparo_agenda_*` gauges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipelines.core.common.queries import query

PERIOD = timedelta(minutes=5)  # the seed's evaluation period of the failure rate
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_COUNTERS = (
    ("IngestJobsCompleted", "Jobs de ingestão encerrados, por status final.", "metric_ingest_jobs", ("status",)),
    ("LeadsCreated", "Leads criados por jobs de ingestão, por origem do job.", "metric_leads_created", ("origem",)),
    ("AgendamentosCriados", "Agendamentos criados.", "metric_agendamentos", ("tipo", "canal")),
)  # fmt: skip

_GAUGES = (
    ("disparo_agenda_disparos_devidos", "Disparos pendentes já devidos.", "gauge_disparos_devidos", ("canal",)),
    ("disparo_agenda_dlq", "Disparos na DLQ ainda não re-enviados.", "gauge_dlq", ("canal",)),
    ("disparo_agenda_ingest_jobs", "Jobs de ingestão por status.", "gauge_ingest_jobs", ("status",)),
    ("disparo_agenda_agendamentos", "Agendamentos por status.", "gauge_agendamentos", ("status",)),
    ("disparo_agenda_eventos_a_publicar", "Eventos ainda não entregues a webhooks.", "gauge_eventos_a_publicar", ()),
    ("disparo_agenda_alarmes_abertos", "Incidentes de alarme abertos.", "gauge_alarmes_abertos", ("alarme",)),
)  # fmt: skip


@dataclass(frozen=True)
class FailureCount:
    tenant_id: UUID
    canal: str
    periodo: int  # 1: the earlier period, 2: the later one
    enviados: int
    falhas: int

    @property
    def total(self) -> int:
        return self.enviados + self.falhas

    @property
    def taxa(self) -> float:
        """Failure rate in [0, 1]; 0 without sends."""
        return self.falhas / self.total if self.total else 0.0


def failure_counts(conn: psycopg.Connection, now: datetime, periods: int = 1) -> list[FailureCount]:
    """Sends per tenant × canal in the last `periods` (1 or 2) periods of PERIOD ending at `now`."""
    inicio = now - PERIOD * periods
    rows = conn.execute(
        query("observability", "failure_counts"),
        {"inicio": inicio, "meio": now - PERIOD if periods == 2 else inicio, "fim": now},
    ).fetchall()
    return [
        FailureCount(
            r["tenant_id"], r["canal"], r["periodo"] if periods == 2 else 1, r["enviados"], r["falhas"]
        )
        for r in rows
    ]


class DatabaseCollector(Collector):
    """A prometheus_client collector reading one connection at collect time."""

    def __init__(self, conn: psycopg.Connection, *, now: datetime | None = None) -> None:
        self.conn = conn
        self.now = now

    def collect(self) -> Iterator[Metric]:
        for name, help_text, query_name, labels in _COUNTERS:
            family = CounterMetricFamily(name, help_text, labels=["tenant_id", *labels])
            for row in self.conn.execute(query("observability", query_name)).fetchall():
                family.add_metric([str(row["tenant_id"]), *(str(row[k]) for k in labels)], row["n"])
            yield family
        yield from self._disparos()
        rate = GaugeMetricFamily(
            "DisparosFailedRate",
            "Falhas finais / (aceitos + falhas finais) nos últimos 5 minutos, em %.",
            labels=["tenant_id", "canal"],
        )
        for c in failure_counts(self.conn, self.now or datetime.now(UTC)):
            rate.add_metric([str(c.tenant_id), c.canal], round(100.0 * c.taxa, 3))
        yield rate
        for name, help_text, query_name, labels in _GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=list(labels))
            for row in self.conn.execute(query("observability", query_name)).fetchall():
                family.add_metric([str(row[k]) for k in labels], row["n"])
            yield family

    def _disparos(self) -> Iterator[Metric]:
        """DisparosSent_total and disparo_agenda_disparos from one scan of `disparos`."""
        sent: dict[tuple[str, str], int] = {}
        by_status: dict[tuple[str, str], int] = {}
        for row in self.conn.execute(query("observability", "disparos_counts")).fetchall():
            key = (str(row["tenant_id"]), row["canal"])
            sent[key] = sent.get(key, 0) + row["enviados"]
            by_status[(row["canal"], row["status"])] = (
                by_status.get((row["canal"], row["status"]), 0) + row["n"]
            )
        family = CounterMetricFamily(
            "DisparosSent", "Disparos aceitos pelo servidor MCP.", labels=["tenant_id", "canal"]
        )
        for (tenant_id, canal), n in sorted(sent.items()):
            if n:
                family.add_metric([tenant_id, canal], n)
        yield family
        gauge = GaugeMetricFamily(
            "disparo_agenda_disparos", "Disparos por canal e status.", labels=["canal", "status"]
        )
        for (canal, status), n in sorted(by_status.items()):
            gauge.add_metric([canal, status], n)
        yield gauge


def exposition(conn: psycopg.Connection, *, now: datetime | None = None) -> bytes:
    """The Prometheus text exposition of every metric, read now from `conn`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(conn, now=now))
    return generate_latest(registry)
