"""Campaign creation: 100,000 disparos from one set-based INSERT … SELECT vs a naive per-row loop.

Run: `.venv/bin/python -m bench.bench_campanha [--leads 100000] [--runs 3] [--baseline 2000]`.
Uses BENCH_DATABASE_URL / DATABASE_URL (else the embedded server under .data/pgbench) and a scratch
database created and dropped here. Leads (each with one principal valid mobile) are seeded with
generate_series, with ids as the ingest writes them (UUIDv7 in line order). Each run creates a new campaign over all leads on a clean disparos table; the figure
is the median wall time of `create_campanha` (the whole transaction, including the lead status update).
The baseline renders in Python and INSERTs one row at a time on a subset, extrapolated per row.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bench.report import machine, server_url, write_section
from pipelines.core.common.db import with_dbname
from pipelines.core.common.ids import uuid7_prefix, uuid7_sql
from pipelines.core.common.migrate import migrate
from pipelines.core.disparos.campanhas import create_campanha
from pipelines.core.disparos.templates import create_template, render
from pipelines.core.tenancy.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[1]
CORPO = (
    "Olá {{contato_nome}}, a {{nome}} (doc {{documento}}) tem {{valor}} em aberto. Responda SAIR para sair."
)


def _server() -> str:
    return server_url()


def _with_db(url: str, name: str) -> str:
    return with_dbname(url, name)


def seed(conn: psycopg.Connection, tenant_id: uuid.UUID, want: int) -> None:
    """`want` leads that will get a disparo plus 1% more whose mobiles are opted out."""
    n = want
    while n - (n + 99) // 100 < want:
        n += 1
    # Ids as the ingest writes them (pipelines/core/common/ids.py): UUIDv7, one prefix per batch, in line order.
    with conn.transaction():
        conn.execute(
            f"""INSERT INTO leads (lead_id, tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha,
                                   nome, contato_nome, documento, documento_tipo)
               SELECT {uuid7_sql("%s", "g")}, %s, 'ext-' || g, 'bench.xlsx', 'Leads', g + 1,
                      'Empresa ' || g || ' Ltda', 'contato' || g, lpad(g::text, 11, '0'), 'cpf'
               FROM generate_series(1, %s) g""",
            (uuid7_prefix(), tenant_id, n),
        )
        conn.execute(
            f"""INSERT INTO lead_telefones (telefone_id, tenant_id, lead_id, telefone, tipo_origem, telefone_principal)
               SELECT {uuid7_sql("%s", "linha_planilha")}, tenant_id, lead_id,
                      '+55119' || lpad(linha_planilha::text, 8, '0'), 'celular', true
               FROM leads WHERE tenant_id = %s""",
            (uuid7_prefix(), tenant_id),
        )
        # 1% opted out, so the exclusion path is exercised at scale too.
        conn.execute(
            """INSERT INTO optouts (tenant_id, canal, destino)
               SELECT %s, 'whatsapp', '+55119' || lpad((g + 1)::text, 8, '0')
               FROM generate_series(1, %s, 100) g""",
            (tenant_id, n),
        )
    conn.execute("VACUUM ANALYZE leads")
    conn.execute("VACUUM ANALYZE lead_telefones")
    conn.execute("VACUUM ANALYZE optouts")


class _Phases(logging.Handler):
    """Collects the per-phase timings create_campanha logs at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.runs: list[dict[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().split(": ", 1)[1]
        self.runs.append({k: float(v.rstrip("s")) for k, v in (p.split(" ") for p in text.split(", "))})


def calibrate(conn: psycopg.Connection) -> float:
    """Machine yardstick: 100k narrow rows into an unindexed table (median of 3)."""
    conn.execute("CREATE TEMP TABLE calib (a int, b uuid DEFAULT gen_random_uuid(), t text)")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO calib (a, t) SELECT g, 'calibração ' || g FROM generate_series(1, 100000) g"
        )
        times.append(time.perf_counter() - t0)
    conn.execute("DROP TABLE calib")
    return statistics.median(times)


def reset(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE disparos, campanhas CASCADE")
    conn.execute("UPDATE leads SET status = 'novo'")
    conn.execute("VACUUM ANALYZE leads")
    conn.execute("VACUUM ANALYZE disparos")


def naive(conn: psycopg.Connection, tenant, limit: int) -> float:
    """Per-row: for each lead, look up its phone and opt-out, render in Python, INSERT, UPDATE the lead."""
    t0 = time.perf_counter()
    with conn.transaction():
        camp = conn.execute(
            "INSERT INTO campanhas (tenant_id, nome, canal, template, inicio) "
            "VALUES (%s, 'naive', 'whatsapp', 'bench', now()) RETURNING campanha_id",
            (tenant.id,),
        ).fetchone()["campanha_id"]
        leads = conn.execute(
            "SELECT lead_id, nome, contato_nome, documento FROM leads WHERE tenant_id = %s ORDER BY linha_planilha "
            "LIMIT %s",
            (tenant.id, limit),
        ).fetchall()
        for lead in leads:
            tel = conn.execute(
                "SELECT telefone_id, telefone FROM telefones_whatsapp WHERE tenant_id = %s AND lead_id = %s "
                "ORDER BY telefone_principal DESC LIMIT 1",
                (tenant.id, lead["lead_id"]),
            ).fetchone()
            if (
                tel is None
                or conn.execute(
                    "SELECT 1 FROM optouts WHERE tenant_id = %s AND canal = 'whatsapp' AND destino = %s",
                    (tenant.id, tel["telefone"]),
                ).fetchone()
            ):
                continue
            ctx = {**lead, "valor": "R$ 10,00"}
            conn.execute(
                """INSERT INTO disparos (tenant_id, lead_id, campanha_id, canal, telefone_id, destino, template, payload)
                   VALUES (%s, %s, %s, 'whatsapp', %s, %s, 'bench', %s)""",
                (tenant.id, lead["lead_id"], camp, tel["telefone_id"], tel["telefone"],
                 Jsonb({"variaveis": {k: str(v) for k, v in ctx.items() if k != "lead_id"},
                        "mensagem": render(CORPO, ctx)})),
            )  # fmt: skip
            conn.execute(
                "UPDATE leads SET status = 'em_disparo', data_ultimo_evento = now() WHERE tenant_id = %s AND lead_id = %s",
                (tenant.id, lead["lead_id"]),
            )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", type=int, default=2000, help="leads in the naive per-row baseline")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()

    server = _server()
    name = f"bench_campanha_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(server, name)
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            tenant, _ = create_tenant(conn, "bench")
            create_template(conn, tenant.id, nome="bench", canal="whatsapp", corpo=CORPO)
            t0 = time.perf_counter()
            seed(conn, tenant.id, args.leads)
            seed_s = time.perf_counter() - t0
            calib_s = calibrate(conn)
            phases = _Phases()
            logger = logging.getLogger("pipelines.core.disparos.campanhas")
            logger.addHandler(phases)
            logger.setLevel(logging.DEBUG)
            times, created = [], 0
            for i in range(args.runs):
                reset(conn)
                t0 = time.perf_counter()
                result = create_campanha(
                    conn, tenant,
                    {"nome": f"run {i}", "canal": "whatsapp", "template": "bench", "variaveis": {"valor": "R$ 10,00"},
                     "filtro": {"status": "novo", "com_celular": True}, "espalhar_minutos": 240},
                )  # fmt: skip
                times.append(time.perf_counter() - t0)
                created = result["criados"]
                print(f"run {i + 1}: {times[-1]:.3f} s, {created} disparos, excluidos {result['excluidos']}")
            check = conn.execute(
                "SELECT count(*) AS n, count(DISTINCT lead_id) AS leads, min(data_agendado) AS a, max(data_agendado) AS b "
                "FROM disparos"
            ).fetchone()
            assert check["n"] == created == check["leads"], check
            reset(conn)
            naive_s = naive(conn, tenant, args.baseline)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    median = statistics.median(times)
    ph = {k: statistics.median(r[k] for r in phases.runs) for k in phases.runs[0]} if phases.runs else {}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    per_row_set = median / created
    per_row_naive = naive_s / args.baseline
    naive_100k = per_row_naive * created
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    md = f"""## Campaign creation (`bench/bench_campanha.py`)

`{"  ".join(["python -m bench.bench_campanha", f"--leads {args.leads}", f"--runs {args.runs}", f"--baseline {args.baseline}"])}`

One `POST /campanhas` (`pipelines.core.disparos.campanhas.create_campanha`): audience filter + principal valid mobile
+ opt-out anti-join + template rendered in SQL + spread schedule + one `INSERT … SELECT` (a new campaign has no
disparos yet, so no `ON CONFLICT` arbitration; `aplicar` keeps it)
+ lead status update, in one transaction. {args.leads:,} leads seeded with generate_series, 1% opted out.

| | value |
|---|---|
| disparos created per run | {created:,} |
| set-based, median of {args.runs} runs | **{median:.3f} s** ({created / median:,.0f} disparos/s) |
| runs | {", ".join(f"{t:.3f}" for t in times)} s |
| naive per-row baseline ({args.baseline:,} leads, one INSERT each) | {naive_s:.3f} s ({per_row_naive * 1e3:.3f} ms/row) |
| naive extrapolated to {created:,} | {naive_100k:.1f} s |
| speed-up (per row) | **{per_row_naive / per_row_set:.0f}x** |
| target | ≤ 2 s for 100,000 → {"met" if median <= 2.0 and created >= 99_000 else "NOT met"} |
| phases (medians): audience temp table / counts / lead status update / the INSERT … SELECT | {" / ".join(f"{v:.3f}" for v in ph.values())} s |
| machine yardstick: 100k narrow rows into an unindexed table | {calib_s:.3f} s |
| seeding ({args.leads:,} leads + phones) | {seed_s:.2f} s |
| peak RSS of the Python process | {peak_mb:.0f} MiB (the work runs in PostgreSQL) |

Where the time goes: the INSERT writes each row to the heap, 4 btree indexes (primary key, lead, the partial
unique active-per-campaign and the partial claim index) and a block-range index (campaign), and captures
the rows for the 4 set-based foreign-key checks (lead, phone, e-mail, campaign: one index probe per row and
key, `sql/0008_set_based_fks.sql`); the lead update (novo -> em_disparo) is heap-only (HOT): leads keep half
of each page free and no index holds the status (`sql/0010_hot_lead_status.sql`). Leads carry UUIDv7 ids in
line order, as the ingest writes them, so the campaign's rows (in ingest order) reach the lead-keyed indexes
at their right edge (with random lead ids, as this benchmark seeded before, the same code measured ~1.95 s
here). The yardstick row is what this machine needs for 100k narrow rows with no index at all.
Machine: {machine()}; load average during the run {" ".join(load)} (other sessions share the 2 cores); PostgreSQL {"embedded (pgserver)" if "BENCH_DATABASE_URL" not in os.environ and "DATABASE_URL" not in os.environ else "from DATABASE_URL"}.
"""
    print(md)
    if not args.no_write:
        write_section("campanha", md)


if __name__ == "__main__":
    main()
