"""Reporting mart: building a day of 1,000,000 disparos, reading 30 days of that volume over HTTP, and the
send engine's throughput while the mart builds.

Run: `.venv/bin/python -m bench.bench_mart [--n 1000000] [--runs 3] [--requests 200] [--send-n 20000]
[--no-write]`. Uses BENCH_DATABASE_URL / DATABASE_URL (else the embedded server under .data/pgbench) and a
scratch database created and dropped here; the mart goes to a temporary folder.

1. Build: `build_day` of the funnel for a day holding --n disparos (10 tenants × 10 campaigns, every state,
   seeded set-based by bench/mart_data.py). Baseline in the same run: the export statement alone as a
   binary COPY drained by psycopg (what PostgreSQL costs before any Arrow, DuckDB or Parquet work).
   Target: ≤ 10 s.
2. Read: `GET /relatorios/funil` (JSON; then CSV) for one tenant over 30 days, through the real app
   in process (FastAPI TestClient, real PostgreSQL for the API key). The 29 other days are copies of the
   built day's files (same volume per day). Target: p95 ≤ 150 ms.
3. Sending while the mart builds: `send_due` (one worker, concurrency 50, MCP simulator in its own process,
   0 ms latency) on --send-n due disparos, alone and while another process rebuilds the 1M-disparo day in
   a loop as a `mart_diario` run does (its own process, nice 10 and SCHED_IDLE, one DuckDB thread). Target: no
   slowdown beyond the noise.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.mart_data import seed_day
from bench.report import machine, server_url, write_section
from bench.send_data import seed_due
from pipelines.core.common.db import with_dbname
from pipelines.core.common.migrate import migrate
from pipelines.core.common.settings import Settings
from pipelines.core.reports.build import build_day, run_in_background_priority
from pipelines.core.reports.export import day_bounds, statement
from pipelines.core.reports.mart import Mart
from pipelines.core.send.engine import send_due
from pipelines.core.tenancy.tenants import create_tenant, update_tenant
from pipelines.mcp_sim import SimConfig, run_in_process

DIA = date(2025, 3, 9)
DAYS = 30


def build_scenario(conn, url: str, mart: Mart, runs: int) -> dict:
    floors, builds = [], []
    for _ in range(runs):
        bounds = day_bounds(conn, DIA)
        t0 = time.perf_counter()
        with conn.cursor().copy(
            f"COPY (\n{statement(conn, 'fatos_disparos', bounds)}\n) TO STDOUT (FORMAT binary)"
        ) as copy:
            size = sum(len(block) for block in copy)
        floors.append(time.perf_counter() - t0)
        result = build_day(conn, url, mart, "funil", DIA)
        builds.append(result)
        print(
            f"  build {result.tempos_s['total']:.2f} s {result.tempos_s} "
            f"(binary COPY alone {floors[-1]:.2f} s, {size / 1e6:.0f} MB)"
        )
    totals = [b.tempos_s["total"] for b in builds]
    median_build = builds[totals.index(statistics.median_low(totals))]
    return {
        "total": statistics.median(totals),
        "all": totals,
        "steps": median_build.tempos_s,
        "floor": statistics.median(floors),
        "rows": median_build.linhas,
    }


def copy_days(mart: Mart) -> None:
    """The 29 days before DIA as copies of DIA's files (same volume)."""
    for k in range(1, DAYS):
        for dataset in ("fatos_disparos", "funil"):
            target = mart.day_file(dataset, DIA - timedelta(days=k))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mart.day_file(dataset, DIA), target)


def read_scenario(url: str, api_key: str, requests: int) -> dict:
    from fastapi.testclient import TestClient

    from api_lite.main import create_app

    headers = {"Authorization": f"Bearer {api_key}"}
    params = {"de": str(DIA - timedelta(days=DAYS - 1)), "ate": str(DIA)}
    out = {}
    with TestClient(create_app(url, max_size=4)) as client:
        for formato in ("json", "csv"):
            client.get("/relatorios/funil", params={**params, "formato": formato}, headers=headers)  # warm
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                r = client.get("/relatorios/funil", params={**params, "formato": formato}, headers=headers)
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
            if formato == "json":
                out["linhas"] = len(r.json()["linhas"])
            times.sort()
            out[formato] = {
                "p50": statistics.median(times) * 1000,
                "p95": times[int(len(times) * 0.95) - 1] * 1000,
                "max": times[-1] * 1000,
            }
            print(f"  GET /relatorios/funil?formato={formato} over {DAYS} days: {out[formato]}")
    return out


def _build_loop(url: str, root: str, stop, builds) -> None:
    """What a `mart_diario` run does (assets/mart.py, segundo_plano): low priority, one DuckDB thread."""
    run_in_background_priority()
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        while not stop.is_set():
            build_day(conn, url, Mart(Path(root)), "funil", DIA, threads=1)
            builds.value += 1


def send_scenario(conn, url: str, sim_url: str, tenant_id, n: int, runs: int, mart: Mart) -> dict:
    settings = Settings.from_env()

    def one() -> float:
        conn.execute("DELETE FROM disparos WHERE tenant_id = %s", (tenant_id,))
        conn.execute("DELETE FROM envio_rate_buckets")
        seed_due(conn, tenant_id, n)
        conn.execute("VACUUM ANALYZE disparos")
        httpx.post(sim_url + "/sim/reset").raise_for_status()
        stats = send_due(url, canal="whatsapp", tenant_id=tenant_id, settings=settings, time_budget_s=900)
        if stats.enviados != n:
            raise SystemExit(f"send run sent {stats.enviados} of {n}")
        return stats.throughput

    alone, during, builds_done = [], [], []
    ctx = mp.get_context("spawn")
    for _ in range(runs):
        alone.append(one())
        stop, builds = ctx.Event(), ctx.Value("i", 0)
        proc = ctx.Process(target=_build_loop, args=(url, str(mart.root), stop, builds))
        proc.start()
        time.sleep(3.0)  # the build is past its start and exporting
        during.append(one())
        stop.set()
        proc.join()
        builds_done.append(builds.value)
        print(f"  sends/s alone {alone[-1]:.0f}, while the mart builds {during[-1]:.0f}")
    return {
        "alone": statistics.median(alone),
        "during": statistics.median(during),
        "all_alone": alone,
        "all_during": during,
        "builds": builds_done,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--send-n", type=int, default=20_000)
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    server = server_url()
    name = f"bench_mart_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    root = Path(tempfile.mkdtemp(prefix="bench-mart-"))
    mart = Mart(root / "mart")
    sim = run_in_process(SimConfig())
    os.environ["MCP_WHATSAPP_ENDPOINT"] = os.environ["MCP_EMAIL_ENDPOINT"] = sim.url
    os.environ["DISPARO_AGENDA_HOME"] = str(root)
    try:
        migrate(url)
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        tenants = [create_tenant(conn, f"t{i}") for i in range(10)]
        t0 = time.perf_counter()
        seed_day(conn, [t.id for t, _ in tenants], DIA, args.n)
        conn.execute("VACUUM ANALYZE")
        print(f"seeded {args.n:,} disparos in {time.perf_counter() - t0:.1f} s")
        build = build_scenario(conn, url, mart, args.runs)
        copy_days(mart)
        read = read_scenario(url, tenants[0][1], args.requests)
        sender, _ = create_tenant(conn, "envio")
        update_tenant(conn, "envio", rate_limit_whatsapp=1_000_000)
        send = send_scenario(conn, url, sim.url, sender.id, args.send_n, args.runs, mart)
        conn.close()
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Each run pairs an alone and a during measurement back to back; the median of the pairs' ratios is
    # robust to the drift of the alone figure from run to run.
    ratio = statistics.median(d / a for a, d in zip(send["all_alone"], send["all_during"], strict=True))
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in build["steps"].items() if k != "total")
    md = f"""## Reporting mart (`bench/bench_mart.py`)

`.venv/bin/python -m bench.bench_mart --n {args.n} --runs {args.runs} --requests {args.requests} --send-n {args.send_n}`
— embedded PostgreSQL on the same machine; {args.n:,} disparos created on one day for 10 tenants × 10
campaigns in every state (bench/mart_data.py, set-based). Medians of {args.runs} runs.

| scenario | figure | target | result |
|---|---|---|---|
| build the funnel day of {args.n:,} disparos (export → Arrow → DuckDB → Parquet facts + aggregate) | **{build["total"]:.2f} s** ({steps}; runs: {", ".join(f"{x:.2f}" for x in build["all"])}); baseline: the export as a bare binary COPY drained by psycopg {build["floor"]:.2f} s | ≤ 10 s | {"met" if build["total"] <= 10 else "NOT met"} |
| `GET /relatorios/funil` JSON, one tenant, {DAYS} days of that volume ({read["linhas"]} rows) | p50 {read["json"]["p50"]:.1f} ms, **p95 {read["json"]["p95"]:.1f} ms**, max {read["json"]["max"]:.1f} ms ({args.requests} requests) | p95 ≤ 150 ms | {"met" if read["json"]["p95"] <= 150 else "NOT met"} |
| same, `formato=csv` | p50 {read["csv"]["p50"]:.1f} ms, p95 {read["csv"]["p95"]:.1f} ms | report | — |
| send engine, {args.send_n:,} due, alone vs while another process rebuilds the day in a loop | **{send["alone"]:,.0f} → {send["during"]:,.0f} sends/s** (median of the runs' during/alone ratios {ratio:.0%}; alone: {", ".join(f"{x:,.0f}" for x in send["all_alone"])}; during: {", ".join(f"{x:,.0f}" for x in send["all_during"])}; builds during the runs: {send["builds"]}) | no slowdown beyond noise | {"met" if ratio >= 0.9 else "NOT met"} |

The build's day is read by the creation-time BRIN index (sql/0020); its export runs as one binary COPY
decoded into Arrow by the ADBC driver. The read path opens no database file: one in-memory DuckDB per
process over the Parquet days, pruned to the asked days by the `dia=` folders. The other {DAYS - 1} days
are copies of the built day's files.
The send scenario's mart process runs as a `mart_diario` run does (nice 10 and SCHED_IDLE in every
thread, one DuckDB thread) and rebuilds back to back, a worst case (the schedule builds once a day, in
about the build time above). What it leaves at normal priority is the PostgreSQL backend serving its COPY,
on the same 2 cores as the send engine, the simulator and the database's own work. Sets of 5 runs
(medians of per-run ratios) measured nice 10 alone 76 %, with SCHED_IDLE 79–82 %, and with the backend
lowered as well (renice and SCHED_IDLE, possible only for a local server of the same OS user) 82–85 %:
within these sets' noise, and a starved backend holding a buffer lock would stall the send engine's
backends (priority inversion), so the backend is left alone.

Peak RSS of the benchmark process: {peak_mb:.0f} MiB. Load average at start: {load_before[0]:.2f}
(other work on the machine shares the cores).
Machine: {machine()}.
"""
    print(md)
    if not args.no_write:
        write_section("mart", md)


if __name__ == "__main__":
    main()
