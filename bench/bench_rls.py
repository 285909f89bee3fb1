"""Row-level security: what it costs the hot paths.

Run: `.venv/bin/python -m bench.bench_rls [--leads 100000] [--ingest-rows 50000] [--runs 3] [--no-write]`.
A scratch database (BENCH_DATABASE_URL / DATABASE_URL, else the embedded server under .data/pgbench) with
two tenants of `--leads` leads each. Modes alternate run by run so machine noise hits them alike:

- campaign creation (`create_campanha`, the `POST /campanhas` work) as the table owner with RLS enabled
  (what workers, Dagster and the CLI do), as the owner with RLS disabled on every table (the code before
  RLS), and as the API role `disparo_agenda_app` with the tenant set (what an API request does now);
- ingest (`run_job`, owner: the loader works as owner) with RLS enabled vs disabled;
- a page of `GET /leads` (`list_leads`, 100 rows + total) as owner vs as the API role.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from bench.bench_campanha import CORPO, reset, seed
from bench.report import machine, server_url, write_section
from pipelines.core.common.db import tenant_scope, with_dbname
from pipelines.core.common.migrate import migrate
from pipelines.core.disparos.campanhas import create_campanha
from pipelines.core.disparos.templates import create_template
from pipelines.core.leads.records import list_leads
from pipelines.core.tenancy.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".data" / "bench"


def _rls_tables(conn: psycopg.Connection) -> list[str]:
    return [
        r["relname"]
        for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = current_schema()::regnamespace"
        ).fetchall()
    ]


def _set_rls(conn: psycopg.Connection, tables: list[str], on: bool) -> None:
    verb = "ENABLE" if on else "DISABLE"
    with conn.transaction():
        for t in tables:
            conn.execute(f'ALTER TABLE "{t}" {verb} ROW LEVEL SECURITY')


def _campaign(conn: psycopg.Connection, tenant, i: int) -> float:
    reset(conn)
    t0 = time.perf_counter()
    create_campanha(
        conn, tenant,
        {"nome": f"run {i}", "canal": "whatsapp", "template": "bench", "variaveis": {"valor": "R$ 10,00"},
         "filtro": {"status": "novo", "com_celular": True}, "espalhar_minutos": 240},
    )  # fmt: skip
    return time.perf_counter() - t0


def _ingest(url: str, conn: psycopg.Connection, sheet: Path) -> float:
    from pipelines.core.ingest import create_job, run_job

    tenant, _ = create_tenant(conn, f"ing-{uuid.uuid4().hex[:8]}")
    job_id = create_job(conn, tenant.id, sheet.name, str(sheet), origem="cli")
    t0 = time.perf_counter()
    doc = run_job(url, job_id)
    seconds = time.perf_counter() - t0
    assert doc["status"] == "concluido", doc.get("mensagem_erro")
    return seconds


def _page(conn: psycopg.Connection, tenant_id, calls: int) -> float:
    t0 = time.perf_counter()
    for i in range(calls):
        list_leads(conn, tenant_id, limit=100, offset=(i % 50) * 100)
    return (time.perf_counter() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000, help="leads per tenant (two tenants)")
    ap.add_argument("--ingest-rows", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--page-calls", type=int, default=200)
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()

    from bench.gen_leads import generate

    CACHE.mkdir(parents=True, exist_ok=True)
    sheet = CACHE / f"leads_{args.ingest_rows}_s0.xlsx"
    if not sheet.exists():
        generate(sheet, args.ingest_rows, seed=0)

    server = server_url()
    name = f"bench_rls_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    camp: dict[str, list[float]] = {"owner, RLS on": [], "owner, RLS off": [], "API role, RLS on": []}
    ing: dict[str, list[float]] = {"owner, RLS on": [], "owner, RLS off": []}
    page: dict[str, list[float]] = {"owner": [], "API role": []}
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            tenant, _ = create_tenant(conn, "bench")
            other, _ = create_tenant(conn, "outro")
            for t in (tenant, other):
                create_template(conn, t.id, nome="bench", canal="whatsapp", corpo=CORPO)
                seed(conn, t.id, args.leads)
            tables = _rls_tables(conn)
            # Each block rotates the order of its modes run by run, so neither drift (tables growing,
            # autovacuum, other load) nor going first favours one mode.
            camp_modes = list(camp)
            for i in range(args.runs):
                for mode in camp_modes[i % 3 :] + camp_modes[: i % 3]:
                    _set_rls(conn, tables, mode != "owner, RLS off")
                    if mode == "API role, RLS on":
                        reset(conn)
                        with tenant_scope(conn, tenant.id):
                            t0 = time.perf_counter()
                            create_campanha(
                                conn, tenant,
                                {"nome": f"api {i}", "canal": "whatsapp", "template": "bench",
                                 "variaveis": {"valor": "R$ 10,00"},
                                 "filtro": {"status": "novo", "com_celular": True}, "espalhar_minutos": 240},
                            )  # fmt: skip
                            camp[mode].append(time.perf_counter() - t0)
                    else:
                        camp[mode].append(_campaign(conn, tenant, i))
                print(f"campaign run {i + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in camp.items()))
            _set_rls(conn, tables, True)
            for i in range(args.runs):
                for mode in ("owner", "API role") if i % 2 == 0 else ("API role", "owner"):
                    if mode == "owner":
                        page[mode].append(_page(conn, tenant.id, args.page_calls))
                    else:
                        with tenant_scope(conn, tenant.id):
                            page[mode].append(_page(conn, tenant.id, args.page_calls))
                print(f"page run {i + 1}: " + ", ".join(f"{k} {v[-1] * 1e3:.2f}ms" for k, v in page.items()))
            for i in range(args.runs):
                for on in (False, True) if i % 2 == 0 else (True, False):  # each ingest: a new tenant
                    _set_rls(conn, tables, on)
                    ing["owner, RLS on" if on else "owner, RLS off"].append(_ingest(url, conn, sheet))
                print(f"ingest run {i + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in ing.items()))
            _set_rls(conn, tables, True)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def row(
        label: str, values: list[float], base: list[float], unit: float = 1.0, fmt: str = "{:.3f} s"
    ) -> str:
        med, ref = statistics.median(values), statistics.median(base)
        runs = ", ".join(fmt.format(v * unit) for v in values)
        return f"| {label} | **{fmt.format(med * unit)}** | {med / ref:.2f} | {runs} |"

    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    off = camp["owner, RLS off"]
    md = f"""## Row-level security (`bench/bench_rls.py`)

`python -m bench.bench_rls --leads {args.leads} --ingest-rows {args.ingest_rows} --runs {args.runs}`

Two tenants of {args.leads:,} leads each (each ingest adds a tenant). Owners bypass RLS (no `FORCE`), so
workers, the ingest loader, Dagster and the CLI pay nothing; API requests run as `disparo_agenda_app`, where
each statement also checks the policy `tenant_id = app.tenant_id`. Medians of {args.runs} runs, the order of
the modes rotated run by run; ratio to the first row of each block.

| path | median | ratio | runs |
|---|---|---|---|
{row("campaign creation, owner, RLS off (before)", off, off)}
{row("campaign creation, owner, RLS on", camp["owner, RLS on"], off)}
{row("campaign creation, API role (POST /campanhas)", camp["API role, RLS on"], off)}
{row(f"ingest {args.ingest_rows:,} rows, owner, RLS off (before)", ing["owner, RLS off"], ing["owner, RLS off"])}
{row(f"ingest {args.ingest_rows:,} rows, owner, RLS on", ing["owner, RLS on"], ing["owner, RLS off"])}
{row("GET /leads page (100 rows + total), owner", page["owner"], page["owner"], 1e3, "{:.2f} ms")}
{row("GET /leads page (100 rows + total), API role", page["API role"], page["owner"], 1e3, "{:.2f} ms")}

Machine: {machine()}; load average {" ".join(load)} (other sessions share the cores; the ratios are what
this measures); PostgreSQL {"embedded (pgserver)" if "BENCH_DATABASE_URL" not in os.environ and "DATABASE_URL" not in os.environ else "from DATABASE_URL"}.
"""
    print(md)
    if not args.no_write:
        write_section("rls", md)


if __name__ == "__main__":
    main()
