"""Ingest benchmark: the project's full ingest vs the floor (fastexcel read + COPY of the raw columns into an
UNLOGGED table) vs a naive baseline (openpyxl + row-by-row INSERT), plus a size sweep up to Excel's maximum.

    .venv/bin/python -m bench.bench_ingest [--rows 164809] [--runs 3] [--big 250000,500000,1048575]
                                           [--naive-rows N] [--skip-naive] [--no-write]

Each measurement runs in its own subprocess so peak RSS (ru_maxrss) belongs to that run alone. Uses
DATABASE_URL or the embedded server; a scratch database is created (and dropped) on that server.
Figures go to BENCHMARKS.md (section `ingest`)."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".data" / "bench"


# ---------------------------------------------------------------- children (one measurement each)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(url: str, path: Path, tenant_slug: str) -> dict:
    from pipelines.core.common.db import connection
    from pipelines.core.ingest import create_job, run_job
    from pipelines.core.tenancy.tenants import create_tenant, get_tenant_by_slug

    with connection(url) as conn:
        try:
            tenant = get_tenant_by_slug(conn, tenant_slug)
        except Exception:
            tenant, _ = create_tenant(conn, tenant_slug)
        job_id = create_job(conn, tenant.id, path.name, str(path), origem="cli")
    t0 = time.perf_counter()
    doc = run_job(url, job_id)
    seconds = time.perf_counter() - t0
    if doc["status"] != "concluido":
        raise SystemExit(f"ingest failed: {doc['mensagem_erro']}")
    keys = ("linhas_processadas", "leads_criados", "leads_atualizados", "telefones_criados", "emails_criados",
            "linhas_rejeitadas")  # fmt: skip
    return {"seconds": seconds, "rss_mb": _rss_mb(), **{k: doc[k] for k in keys}}


def child_floor(url: str, path: Path) -> dict:
    import fastexcel

    from pipelines.core.common.db import connection

    t0 = time.perf_counter()
    df = fastexcel.read_excel(path).load_sheet("Leads", dtypes="string").to_polars()
    t_read = time.perf_counter() - t0
    table = f"floor_{uuid.uuid4().hex[:8]}"
    with connection(url) as conn:
        with conn.transaction():
            cols = ", ".join(f"c{i} TEXT" for i in range(df.width))
            conn.execute(f"CREATE UNLOGGED TABLE {table} ({cols})")
            buf = io.BytesIO()
            df.write_csv(buf, include_header=False)
            with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv)") as cp:
                cp.write(buf.getbuffer())
        seconds = time.perf_counter() - t0
        conn.execute(f"DROP TABLE {table}")
    return {"seconds": seconds, "read_s": t_read, "rss_mb": _rss_mb(), "rows": df.height}


_SPLIT_PHONE = re.compile(r"\s+(?:e|ou)\s+|[/;,|\r\n]", re.I)
_SPLIT_EMAIL = re.compile(r"[;,/\s]+")
_EMAIL = re.compile(r"^[a-z0-9_!#$%&'*+\-/=?^`{|}~.]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _naive_phone(token: str) -> tuple[str, str] | None:
    d = re.sub(r"\D", "", token)
    if d[:4] in ("0800", "0300", "0500", "0900"):
        return None
    if len(d) in (12, 13) and d.startswith("55"):
        d = d[2:]
    elif d.startswith("0") and len(d) in (11, 12):
        d = d[1:]
    elif d.startswith("0") and len(d) in (13, 14):
        d = d[3:]
    if len(d) == 10 and d[2] in "2345":
        return "+55" + d, "fixo"
    if len(d) == 10 and d[2] in "6789":
        return "+55" + d[:2] + "9" + d[2:], "celular"
    if len(d) == 11 and d[2] == "9":
        return "+55" + d, "celular"
    return None


def child_phases(url: str, path: Path) -> dict:
    """Where the time goes (rolled back): read, validate, normalize (here before the load; run_job
    overlaps it with the load), then each step of the load; plus the same binary COPY of the new leads
    into a copy of `leads` without its indexes and foreign keys, to show what they cost."""
    from pipelines.core.common.db import connection
    from pipelines.core.common.ids import uuid7_series
    from pipelines.core.ingest import load as L
    from pipelines.core.ingest.pipeline import validate
    from pipelines.core.ingest.reader import read_sheet
    from pipelines.core.tenancy.tenants import create_tenant

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    raw = read_sheet(path)
    out["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    validated = validate(raw)
    out["validate"] = time.perf_counter() - t0
    parts = list(L.stream_parts(validated))  # timed apart from the load here (run_job overlaps them)
    out["normalize"] = time.perf_counter() - t0 - out["validate"]
    with connection(url) as conn:
        tenant, _ = create_tenant(conn, f"phases-{uuid.uuid4().hex[:8]}")
        job = conn.execute(
            "INSERT INTO ingest_jobs (tenant_id, arquivo_origem) VALUES (%s, %s) RETURNING job_id",
            (tenant.id, path.name),
        ).fetchone()["job_id"]
        with conn.transaction(force_rollback=True):
            t0 = time.perf_counter()
            L.load(conn, tenant_id=tenant.id, job_id=job, arquivo=path.name, aba="Leads", validated=validated,
                   parts=parts, timings=out)  # fmt: skip
            out["load_wall"] = time.perf_counter() - t0
        all_leads = polars.concat([p.leads for p in parts])
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE bare_leads (LIKE leads INCLUDING DEFAULTS) ON COMMIT DROP")
            data = L.new_leads_data(
                all_leads.with_columns(uuid7_series(all_leads.height).alias("lead_id")),
                L.lead_constants(tenant.id, job, path.name, "Leads"),
            )
            t0 = time.perf_counter()
            L._copy(cur, "bare_leads", L._LEAD_TARGET, data, "binary")
            out["same_leads_copy_without_indexes_fks"] = time.perf_counter() - t0
    return {"phases": out, "rss_mb": _rss_mb()}


def child_naive(url: str, path: Path, limit: int | None) -> dict:
    """What a first implementation looks like: openpyxl, a Python loop, one INSERT per row and contact."""
    import openpyxl

    from pipelines.core.common.db import connection
    from pipelines.core.tenancy.tenants import create_tenant

    with connection(url) as conn:
        tenant, _ = create_tenant(conn, f"naive-{uuid.uuid4().hex[:8]}")
    t0 = time.perf_counter()
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb["Leads"]
    rows = ws.iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    idx = {h: i for i, h in enumerate(header)}
    n = 0
    with connection(url) as conn, conn.transaction():
        for line, row in enumerate(rows, start=2):
            if limit is not None and n >= limit:
                break
            n += 1
            row = tuple(row) + (None,) * (len(header) - len(row))  # read-only rows can be ragged
            if not any(v not in (None, "") for v in row):
                continue
            lid, nome = row[idx["ID"]], row[idx["Razão Social"]]
            if lid is None or nome is None:
                continue
            phones = " / ".join(
                str(row[idx[c]]) for c in ("Telefone", "Celular", "WhatsApp") if row[idx[c]] is not None
            )
            emails = " / ".join(str(row[idx[c]]) for c in ("E-mail", "E-mail 2") if row[idx[c]] is not None)
            lead_id = conn.execute(
                "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome, "
                "contato_nome, telefone_raw, email_raw) VALUES (%s, %s, %s, 'Leads', %s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, lead_id_externo) DO NOTHING RETURNING lead_id",
                (
                    tenant.id,
                    str(lid),
                    path.name,
                    line,
                    str(nome),
                    row[idx["Contato"]],
                    phones or None,
                    emails or None,
                ),
            ).fetchone()
            if lead_id is None:
                continue
            seen: set[str] = set()
            for token in _SPLIT_PHONE.split(phones):
                p = _naive_phone(token)
                if p and p[0] not in seen:
                    conn.execute(
                        "INSERT INTO lead_telefones (tenant_id, lead_id, telefone, telefone_principal, tipo_origem) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (tenant.id, lead_id["lead_id"], p[0], not seen, p[1]),
                    )
                    seen.add(p[0])
            seen = set()
            for token in _SPLIT_EMAIL.split(emails):
                e = token.lower().removeprefix("mailto:")
                if _EMAIL.match(e) and e not in seen:
                    conn.execute(
                        "INSERT INTO lead_emails (tenant_id, lead_id, email, email_principal) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (tenant.id, lead_id["lead_id"], e, not seen),
                    )
                    seen.add(e)
    return {"seconds": time.perf_counter() - t0, "rss_mb": _rss_mb(), "rows": n}


# ---------------------------------------------------------------- parent


def _run_child(mode: str, url: str, path: Path, **extra: str) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_ingest", "--child", mode, "--url", url, "--file", str(path)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sheet(rows: int, seed: int = 0) -> Path:
    from bench.gen_leads import generate

    path = CACHE / f"leads_{rows}_s{seed}.xlsx"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, rows, seed=seed)
        print(f"generated {path.name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return path


def _scratch_db() -> tuple[str, str | None, str]:
    """(url of a fresh migrated database, its name or None, server url)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from pipelines.core.common.db import database_url
    from pipelines.core.common.migrate import migrate

    server = database_url()
    name = f"bench_ingest_{os.getpid()}"
    try:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        migrate(server)
        return server, None, server
    params = conninfo_to_dict(server)
    params["dbname"] = name
    url = make_conninfo(**params)
    migrate(url)
    return url, name, server


def _drop_db(server: str, name: str | None) -> None:
    if name:
        import psycopg

        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="ingest benchmark")
    ap.add_argument("--rows", type=int, default=164_809)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big", default="250000,500000,1048575", help="size sweep (empty to skip)")
    ap.add_argument(
        "--naive-rows", type=int, default=None, help="run the naive baseline on a subset and extrapolate"
    )
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--child", choices=["ours", "floor", "naive", "phases"])
    ap.add_argument("--url")
    ap.add_argument("--file")
    ap.add_argument("--tenant", default="bench")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)

    if args.child:
        path = Path(args.file)
        if args.child == "ours":
            result = child_ours(args.url, path, args.tenant)
        elif args.child == "floor":
            result = child_floor(args.url, path)
        elif args.child == "phases":
            result = child_phases(args.url, path)
        else:
            result = child_naive(args.url, path, args.limit)
        print(json.dumps(result))
        return 0

    from bench.report import machine, write_section

    url, dbname, server = _scratch_db()
    try:
        path = _sheet(args.rows)
        print(f"sheet: {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
        ours, floor = [], []
        for i in range(args.runs):
            floor.append(_run_child("floor", url, path))
            ours.append(
                _run_child("ours", url, path, tenant=f"bench-{i}-reimport" if i == 0 else f"bench-{i}")
            )
            print(
                f"run {i + 1}: ours {ours[-1]['seconds']:.2f}s, floor {floor[-1]['seconds']:.2f}s",
                file=sys.stderr,
            )
        # Same tenant as run 1, so every lead is an update and no contact is new.
        reimport = _run_child("ours", url, path, tenant="bench-0-reimport")
        phases = _run_child("phases", url, path)["phases"]
        print(f"phases: {phases}", file=sys.stderr)
        naive = None
        if not args.skip_naive:
            naive = _run_child("naive", url, path, **({"limit": args.naive_rows} if args.naive_rows else {}))
            print(f"naive: {naive['seconds']:.1f}s for {naive['rows']} rows", file=sys.stderr)
        big = []
        for rows in [int(x) for x in args.big.split(",") if x.strip()]:
            bpath = _sheet(rows)
            r = _run_child("ours", url, bpath, tenant=f"bench-big-{rows}")
            r["rows"] = rows
            big.append(r)
            print(f"big {rows}: {r['seconds']:.1f}s, {r['rss_mb']:.0f} MB", file=sys.stderr)
    finally:
        _drop_db(server, dbname)

    med = lambda xs, k="seconds": statistics.median(x[k] for x in xs)  # noqa: E731
    o, f = med(ours), med(floor)
    floor_runs = ", ".join(f"{x['seconds']:.2f}" for x in floor)
    ours_runs = ", ".join(f"{x['seconds']:.2f}" for x in ours)
    lines = [
        f"Command: `.venv/bin/python -m bench.bench_ingest --rows {args.rows} --runs {args.runs}`  ",
        f"Machine: {machine()}  ",
        f"Sheet: generated by `bench/gen_leads.py` (seed 0), {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB; "
        f"ours loaded {ours[0]['leads_criados']:,} leads, {ours[0]['telefones_criados']:,} phones, "
        f"{ours[0]['emails_criados']:,} e-mails, {ours[0]['linhas_rejeitadas']:,} rejected lines.",
        "",
        "| run | median s (runs) | peak RSS MB | vs floor |",
        "|---|---|---|---|",
        f"| floor: fastexcel read + COPY raw columns into an UNLOGGED table | {f:.2f} ({floor_runs}) "
        f"| {max(x['rss_mb'] for x in floor):.0f} | 1.0× |",
        f"| ours: full ingest (read, validate, normalize, COPY, upsert, one transaction) | {o:.2f} "
        f"({ours_runs}) | {max(x['rss_mb'] for x in ours):.0f} | {o / f:.1f}× |",
        f"| ours: re-import of the same file (all updates, 0 new contacts) | {reimport['seconds']:.2f} (1) "
        f"| {reimport['rss_mb']:.0f} | {reimport['seconds'] / f:.1f}× |",
    ]
    if naive:
        scale = args.rows / naive["rows"]
        est = naive["seconds"] * scale
        label = "naive: openpyxl + row-by-row INSERT"
        if scale > 1.0001:
            label += f" (run on {naive['rows']:,} rows, extrapolated linearly ×{scale:.2f})"
        lines.append(f"| {label} | {est:.1f} (1) | {naive['rss_mb']:.0f} | {est / f:.1f}× |")
        lines += [
            "",
            f"Full ingest is **{est / o:.1f}× faster than the naive baseline** and **{o / f:.1f}× the floor**.",
        ]
        rss_small = max(x["rss_mb"] for x in ours)
        rss_big = max((r["rss_mb"] for r in big), default=float("nan"))
        ok = lambda cond: "met" if cond else "NOT met"  # noqa: E731
        lines += [
            "",
            f"Targets: full ingest ≤ 3× the floor — {ok(o / f <= 3)} ({o / f:.1f}×); "
            f"≥ 5× faster than naive — {ok(est / o >= 5)} ({est / o:.1f}×); "
            f"peak RSS < 1 GiB at {args.rows:,} rows — {ok(rss_small < 1024)} ({rss_small:.0f} MB); "
            f"< 3 GiB at the largest sweep size — {ok(rss_big < 3072)} ({rss_big:.0f} MB).",
        ]
    if big:
        lines += [
            "",
            "Size sweep (one run each, full ingest):",
            "",
            "| rows | seconds | µs/row | peak RSS MB |",
            "|---|---|---|---|",
        ]
        lines.append(
            f"| {args.rows:,} | {o:.1f} | {o / args.rows * 1e6:.0f} | {max(x['rss_mb'] for x in ours):.0f} |"
        )
        for r in big:
            lines.append(
                f"| {r['rows']:,} | {r['seconds']:.1f} | {r['seconds'] / r['rows'] * 1e6:.0f} | {r['rss_mb']:.0f} |"
            )
    lines += [
        "",
        "Where the time goes (one run of the same sheet, phases timed separately, rolled back):",
        "",
        "| phase | seconds |",
        "|---|---|",
        *(f"| {k.replace('_', ' ')} | {v:.2f} |" for k, v in phases.items()),
        "",
        "Phases are timed one after the other here; in a real run (`ours`) each chunk is normalized and "
        "encoded (`build chunks`) while the database loads the previous one, and the whole file is "
        "validated in a thread while its first lines (validated on their own) load, so the wall time is "
        "about read + the first chunk + the database steps. The last line is the same binary COPY of "
        "the new leads into a copy of `leads` *without* its indexes and foreign-key triggers: what `copy new "
        "leads` pays beyond it is the 2 indexes ingested leads enter (primary key, (tenant_id, "
        "lead_id_externo)) and the two set-based key checks (tenant, job).",
    ]
    md = "## Ingest\n\n" + "\n".join(lines) + "\n"
    print(md)
    if not args.no_write:
        write_section("ingest", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
