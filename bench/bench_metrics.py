"""`GET /metrics`: what a Prometheus scrape costs when every number is counted from the database.

Run: `.venv/bin/python -m bench.bench_metrics [--disparos 1000000] [--tenants 20] [--runs 5] [--no-write]`.
A scratch database (BENCH_DATABASE_URL / DATABASE_URL, else the embedded server under .data/pgbench) with
`--disparos` disparos spread over `--tenants` tenants and two channels (90 % accepted, 5 % erro, 5 %
pendente), one `disparo.completed` outbox event per finished disparo spread over the last 24 h (what the
failure rate reads, 5 minutes of it), one agendamento per 20 disparos and 50 ingest jobs per tenant.

Measured, alternating run by run: the whole exposition (`pipelines.core.observability.metrics.exposition`,
what the route returns) and, as the baseline, the five tenant-less gauges the endpoint served before
(disparos by canal and status, due, DLQ, ingest jobs, agendamentos); then each query of the exposition
alone, to show where the time goes."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg
from psycopg.rows import dict_row

from bench.report import machine, server_url, write_section
from pipelines.core.common.db import with_dbname
from pipelines.core.common.migrate import migrate
from pipelines.core.common.queries import query
from pipelines.core.observability.metrics import exposition

# The endpoint before: disparos by canal and status, due, DLQ, ingest jobs and agendamentos by status.
OLD_GAUGES = (
    "SELECT canal, status, count(*) AS n FROM disparos GROUP BY canal, status ORDER BY 1, 2",
    query("observability", "gauge_disparos_devidos"),
    query("observability", "gauge_dlq"),
    query("observability", "gauge_ingest_jobs"),
    query("observability", "gauge_agendamentos"),
)
EACH = ("disparos_counts", "metric_ingest_jobs", "metric_leads_created", "metric_agendamentos", "failure_counts",
        "gauge_disparos_devidos", "gauge_dlq", "gauge_ingest_jobs", "gauge_agendamentos",
        "gauge_eventos_a_publicar", "gauge_alarmes_abertos")  # fmt: skip


def seed(conn: psycopg.Connection, disparos: int, tenants: int) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO tenants (slug, nome) SELECT 't' || i, 'Tenant ' || i FROM generate_series(1, %s) i",
            (tenants,),
        )
        conn.execute(
            """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome)
               SELECT t.id, 'L' || i, 'seed.xlsx', 'Leads', i + 1, 'Lead ' || i
               FROM tenants t CROSS JOIN generate_series(1, 100) i"""
        )
        conn.execute(
            """INSERT INTO ingest_jobs (tenant_id, arquivo_origem, origem, status, leads_criados, concluido_em)
               SELECT t.id, 'a.xlsx', (ARRAY['cli','api','inbox'])[1 + i % 3],
                      CASE WHEN i % 10 = 0 THEN 'erro' ELSE 'concluido' END, 100, now() - make_interval(hours => i)
               FROM tenants t CROSS JOIN generate_series(1, 50) i"""
        )
    with conn.transaction():
        conn.execute(
            """INSERT INTO disparos (tenant_id, lead_id, canal, destino, template, status, data_envio)
               SELECT l.tenant_id, l.lead_id, CASE WHEN i %% 2 = 0 THEN 'whatsapp' ELSE 'email' END, 'x', 't',
                      CASE WHEN i %% 20 = 0 THEN 'erro' WHEN i %% 20 = 1 THEN 'pendente' ELSE 'enviado' END,
                      CASE WHEN i %% 20 > 1 THEN now() - make_interval(secs => i %% 86400) END
               FROM generate_series(1, %(n)s) i
               JOIN (SELECT lead_id, tenant_id, row_number() OVER (ORDER BY lead_id) - 1 AS k FROM leads) l
                 ON l.k = i %% (100 * %(t)s)""",
            {"n": disparos, "t": tenants},
        )
        conn.execute(
            """INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload, created_at)
               SELECT tenant_id, 'disparo-agenda.disparo.completed', disparo_id,
                      jsonb_build_object('canal', canal, 'status', status),
                      coalesce(data_envio, now() - make_interval(secs => random() * 86400))
               FROM disparos WHERE status IN ('enviado', 'erro')
               ORDER BY 5"""
        )
        conn.execute(
            """INSERT INTO agendamentos (tenant_id, lead_id, tipo, canal, data_agendada)
               SELECT tenant_id, lead_id, CASE WHEN random() < 0.5 THEN 'callback' ELSE 'reuniao' END,
                      'telefone', now() + make_interval(mins => (random() * 100000)::int)
               FROM disparos TABLESAMPLE BERNOULLI (5)"""
        )
    conn.execute("VACUUM ANALYZE")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--disparos", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()
    server = server_url()
    name = f"bench_metrics_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    load_before = os.getloadavg()
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            t0 = time.perf_counter()
            seed(conn, args.disparos, args.tenants)
            seeded_s = time.perf_counter() - t0
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM disparos) AS d, (SELECT count(*) FROM eventos_outbox) AS e, "
                "(SELECT count(*) FROM agendamentos) AS a"
            ).fetchone()
            exposition(conn)  # warm the cache: both modes read warm pages
            full, old = [], []
            for _ in range(args.runs):
                full.append(_time(lambda: exposition(conn)))
                old.append(_time(lambda: [conn.execute(q).fetchall() for q in OLD_GAUGES]))
            each = {
                q: statistics.median(
                    _time(lambda q=q: conn.execute(query("observability", q), _params(q)).fetchall())
                    for _ in range(args.runs)
                )
                for q in EACH
            }
            body = exposition(conn).decode()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    load_after = os.getloadavg()
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    rows = "\n".join(f"| `{q}` | {1000 * s:.1f} |" for q, s in sorted(each.items(), key=lambda kv: -kv[1]))
    md = f"""## /metrics scrape (bench/bench_metrics.py)

`{counts["d"]:,}` disparos over {args.tenants} tenants and two channels, `{counts["e"]:,}` outbox events over
24 h, `{counts["a"]:,}` agendamentos, {50 * args.tenants} ingest jobs; seeded in {seeded_s:.0f} s. The
exposition has {series} series. Medians of {args.runs} runs, alternating, warm cache.

| what | median ms | min ms |
|---|---|---|
| whole exposition (seed metrics with tenant labels + gauges): what `GET /metrics` computes | {1000 * statistics.median(full):.0f} | {1000 * min(full):.0f} |
| baseline: the five tenant-less gauges the endpoint served before | {1000 * statistics.median(old):.0f} | {1000 * min(old):.0f} |

Ratio {statistics.median(full) / statistics.median(old):.2f}x the baseline. Each query alone (median ms):

| query | ms |
|---|---|
{rows}

`disparos_counts` is the one scan of `disparos` (no index answers a GROUP BY over every row), shared by
`DisparosSent_total` and the `disparo_agenda_disparos` gauge; the failure rate reads 5 minutes of outbox events through the block-range index
on `created_at`. Every scrape pays this: scrape no more often than every 15–30 s at this volume.

Machine: {machine()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (other sessions
share the cores); PostgreSQL {"embedded (pgserver)" if "BENCH_DATABASE_URL" not in os.environ and "DATABASE_URL" not in os.environ else "from DATABASE_URL"}.
Command: `.venv/bin/python -m bench.bench_metrics --disparos {args.disparos} --tenants {args.tenants} --runs {args.runs}`."""
    print(md)
    if not args.no_write:
        write_section("metrics", md)


def _params(name: str) -> dict:
    if name != "failure_counts":
        return {}
    from datetime import UTC, datetime

    from pipelines.core.observability.metrics import PERIOD

    now = datetime.now(UTC)
    return {"inicio": now - PERIOD, "meio": now - PERIOD, "fim": now}


if __name__ == "__main__":
    main()
