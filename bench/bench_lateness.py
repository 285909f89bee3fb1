"""Lateness of scheduled sends: how long after `data_agendado` disparos and reminders leave, through the
Dagster path (`disparo-agenda dev --sem-worker`: the daemon's sensors keep long-lived send runs) and through
two `disparo-agenda worker` processes.

Per path, on a fresh database and the MCP simulator in its own process (20 ms latency):
1. 300 WhatsApp disparos and 50 reminders (e-mail to the responsible person) due at staggered times
   5–90 s ahead; lateness = `data_envio − data_agendado`, p50 / p95 / max;
2. immediate sends: 20 disparos created due now, one every 0.5 s; latency = `data_envio − data_agendado`;
3. retry spacing: 10 disparos while the simulator answers 503 to everything; the gaps between the
   attempts of one disparo as the simulator saw them (`GET /sim/attempts`): the seed says ≥ 1 s, ≥ 2 s.
Targets (issue #13): p95 ≤ 1 s and max ≤ 3 s on both paths; immediate < 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.report import machine, server_url, write_section
from bench.send_data import seed_due
from pipelines.core.agenda import agendamentos as ag
from pipelines.core.common.db import with_dbname
from pipelines.core.common.migrate import migrate
from pipelines.core.tenancy.tenants import create_tenant, update_tenant
from pipelines.mcp_sim import SimConfig, run_in_process

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "disparo-agenda")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": _pct(values, 0.5), "p95": _pct(values, 0.95), "max": max(values)}


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def _count(conn, sql: str, params=None) -> int:
    return conn.execute(sql, params).fetchone()["n"]


def scheduled(conn, tenant, n: int, reminders: int) -> tuple[dict, dict]:
    ids = seed_due(conn, tenant.id, n, due_in_s=5, spread_s=85, prefix=f"S{uuid.uuid4().hex[:4]}")
    leads = [
        r["lead_id"]
        for r in conn.execute(
            "SELECT lead_id FROM disparos WHERE disparo_id = ANY(%s) LIMIT %s", (ids, reminders)
        ).fetchall()
    ]
    now = datetime.now(UTC)
    for i, lead in enumerate(leads):  # reminder due at data_agendada − 1 min = now + 5..90 s
        due = now + timedelta(seconds=5 + 85 * i / max(1, reminders - 1))
        ag.create_agendamento(
            conn, tenant, lead, tipo="callback", canal="telefone", responsavel=f"equipe{i}@example.com",
            data_agendada=due + timedelta(minutes=1), lembrete_minutos=1, forcar=True,
        )  # fmt: skip
    done = f"SELECT count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) AND status = 'enviado'"  # noqa: F541
    _wait(lambda: _count(conn, done, (ids,)) == n, 150, "disparos agendados")
    _wait(
        lambda: (
            _count(conn, "SELECT count(*) AS n FROM agendamento_lembretes WHERE status = 'enviado'")
            >= reminders
        ),
        150,
        "lembretes",
    )
    d = [
        r["s"]
        for r in conn.execute(
            "SELECT extract(epoch FROM data_envio - data_agendado)::float8 AS s FROM disparos "
            "WHERE disparo_id = ANY(%s)",
            (ids,),
        ).fetchall()
    ]
    lem = [
        r["s"]
        for r in conn.execute(
            "SELECT extract(epoch FROM data_envio - data_agendado)::float8 AS s FROM agendamento_lembretes "
            "WHERE status = 'enviado'"
        ).fetchall()
    ]
    return _summary(d), _summary(lem)


def immediate(conn, tenant, n: int = 20) -> dict:
    ids = []
    for i in range(n):
        ids += seed_due(conn, tenant.id, 1, due_in_s=0, prefix=f"I{uuid.uuid4().hex[:6]}{i}")
        time.sleep(0.5)
    sql = "SELECT count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) AND status = 'enviado'"
    _wait(lambda: _count(conn, sql, (ids,)) == n, 30, "envios imediatos")
    rows = conn.execute(
        "SELECT extract(epoch FROM data_envio - data_agendado)::float8 AS s FROM disparos "
        "WHERE disparo_id = ANY(%s)",
        (ids,),
    ).fetchall()
    return _summary([r["s"] for r in rows])


def retries(conn, tenant, sim_url: str, n: int = 10) -> dict:
    httpx.post(sim_url + "/sim/config", json={"rate_5xx": 1.0}).raise_for_status()
    try:
        ids = seed_due(conn, tenant.id, n, due_in_s=0, prefix=f"R{uuid.uuid4().hex[:6]}")
        sql = "SELECT count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) AND status = 'erro'"
        _wait(lambda: _count(conn, sql, (ids,)) == n, 60, "retentativas")
    finally:
        httpx.post(sim_url + "/sim/config", json={"rate_5xx": 0.0}).raise_for_status()
    attempts = httpx.get(sim_url + "/sim/attempts").json()["items"]
    gaps1, gaps2 = [], []
    for did in ids:
        t = sorted(a["t"] for a in attempts if a["idempotency_key"] == str(did))
        if len(t) >= 3:
            gaps1.append(t[1] - t[0])
            gaps2.append(t[2] - t[1])
    return {"attempts": 3, "gap1_min": min(gaps1), "gap1_max": max(gaps1), "gap2_min": min(gaps2),
            "gap2_max": max(gaps2), "n": len(gaps1)}  # fmt: skip


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def run_path(path: str, server: str, sim_url: str, home: Path, args) -> dict:
    name = f"bench_late_{path}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    procs: list[subprocess.Popen] = []
    env = {**os.environ, "DATABASE_URL": url, "MCP_WHATSAPP_ENDPOINT": sim_url, "MCP_EMAIL_ENDPOINT": sim_url,
           "DISPARO_AGENDA_HOME": str(home / path), "DAGSTER_HOME": str(home / path / "dagster")}  # fmt: skip
    env.pop("MCP_CALENDAR_ENDPOINT", None)
    log = (home / f"{path}.log").open("w")
    try:
        migrate(url)
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        tenant, _ = create_tenant(conn, "atraso")
        update_tenant(conn, "atraso", rate_limit_whatsapp=80, rate_limit_email=80)
        httpx.post(sim_url + "/sim/reset").raise_for_status()
        load = os.getloadavg()
        t0 = time.monotonic()
        if path == "dagster":
            cmd = [CLI, "dev", "--sem-worker", "--port", str(_free_port()), "--api-port", str(_free_port())]
            procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip
            want = "SELECT count(*) AS n FROM envio_workers WHERE papel = 'dagster'"

            def up() -> bool:
                if procs[0].poll() is not None:
                    raise RuntimeError(f"dev parou (código {procs[0].returncode}); veja {home / path}.log")
                return _count(conn, want) >= 3

            _wait(up, 400, "runs longos do Dagster (whatsapp, email, lembretes)")
        else:
            for _ in range(2):
                procs.append(subprocess.Popen([CLI, "worker"], env=env, cwd=ROOT, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
            want = "SELECT count(*) AS n FROM envio_workers WHERE papel = 'worker'"
            _wait(lambda: _count(conn, want) >= 2, 120, "workers")
        ready_s = time.monotonic() - t0
        print(f"[{path}] ready in {ready_s:.1f} s", flush=True)
        disp, lem = scheduled(conn, tenant, args.n, args.reminders)
        print(f"[{path}] disparos {disp}\n[{path}] lembretes {lem}", flush=True)
        imm = immediate(conn, tenant)
        print(f"[{path}] imediatos {imm}", flush=True)
        ret = retries(conn, tenant, sim_url)
        print(f"[{path}] retentativas {ret}", flush=True)
        load_end = os.getloadavg()
        conn.close()
        return {"disparos": disp, "lembretes": lem, "imediatos": imm, "retries": ret, "load": load,
                "load_end": load_end, "ready_s": ready_s}  # fmt: skip
    finally:
        _stop(procs)
        log.close()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _row(label: str, s: dict) -> str:
    return f"| {label} | {s['n']} | {s['p50']:.3f} | {s['p95']:.3f} | {s['max']:.3f} |"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--reminders", type=int, default=50)
    ap.add_argument("--paths", default="worker,dagster")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = server_url()
    home = Path(tempfile.mkdtemp(prefix="bench-late-"))
    sim = run_in_process(SimConfig(latency_ms=20))
    results = {}
    try:
        for path in args.paths.split(","):
            results[path] = run_path(path, server, sim.url, home, args)
    finally:
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)
    if args.no_write:
        return
    labels = {"worker": "2 × `disparo-agenda worker`", "dagster": "Dagster (`dev --sem-worker`, daemon)"}
    lines = []
    for path, r in results.items():
        lines += [
            _row(f"{labels[path]}: disparos agendados", r["disparos"]),
            _row(f"{labels[path]}: lembretes", r["lembretes"]),
            _row(f"{labels[path]}: envio imediato", r["imediatos"]),
        ]
    retry_lines = [
        f"| {labels[p]} | {r['retries']['n']} | {r['retries']['gap1_min']:.2f}–{r['retries']['gap1_max']:.2f} | "
        f"{r['retries']['gap2_min']:.2f}–{r['retries']['gap2_max']:.2f} |"
        for p, r in results.items()
    ]
    loads = "; ".join(
        f"{labels[p]}: {r['load'][0]:.2f} at start, {r['load_end'][0]:.2f} at end (ready after {r['ready_s']:.0f} s)"
        for p, r in results.items()
    )
    md = f"""## Lateness of scheduled sends (`bench/bench_lateness.py`)

`.venv/bin/python -m bench.bench_lateness --n {args.n} --reminders {args.reminders}` — per path a fresh
database on the embedded PostgreSQL, the MCP simulator in its own process (20 ms latency), {args.n}
WhatsApp disparos and {args.reminders} reminders due at staggered times 5–90 s ahead, then 20 disparos
created due now (one every 0.5 s), then 10 disparos while the simulator answers 503 to everything.
Lateness = `data_envio − data_agendado` in seconds. Targets (issue #13): p95 ≤ 1 s, max ≤ 3 s; immediate < 0.3 s.

| path / what | n | p50 (s) | p95 (s) | max (s) |
|---|---|---|---|---|
{chr(10).join(lines)}

Retry spacing seen at the simulator (`GET /sim/attempts`; the seed: attempt 2 ≥ 1 s and attempt 3 ≥ 2 s
after the previous failure, jitter only adds up to 20 %, then the DLQ):

| path | disparos | attempt 1 → 2 (s) | attempt 2 → 3 (s) |
|---|---|---|---|
{chr(10).join(retry_lines)}

Load average (1 min) — other work shares this machine's cores: {loads}.
Machine: {machine()}.
"""
    write_section("lateness", md)
    print(md)


if __name__ == "__main__":
    main()
