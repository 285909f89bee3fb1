"""The reporting mart built from a real PostgreSQL: a day's funnel, ingest quality and agendamentos match
the tables; a day is each tenant's local day; rebuilding a day replaces it; reads are tenant-scoped."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from ingest_support import write_xlsx
from mart_support import build, mart_funnel, pg_funnel

from bench.mart_data import seed_day
from pipelines.core.common.errors import NotFoundError, ValidationError
from pipelines.core.reports import funil
from pipelines.core.reports.mart import Mart
from pipelines.core.tenancy.tenants import create_tenant

DIA = date(2025, 3, 9)


def _all_days(d: date) -> funil.FunilFiltro:
    return funil.filtro(d, d, None, None, hoje=d)


def test_funnel_day_matches_the_tables_and_leaves_other_days_out(
    conn, database_url, tenant, other_tenant, tmp_path
) -> None:
    seed_day(conn, [tenant["id"]], DIA, 300, campanhas_por_tenant=4)
    seed_day(conn, [other_tenant["id"]], DIA, 120, campanhas_por_tenant=2)
    seed_day(conn, [tenant["id"]], DIA + timedelta(days=1), 50, campanhas_por_tenant=2)

    mart = build(conn, database_url, tmp_path, DIA)

    got = mart_funnel(funil.read(mart, tenant["id"], _all_days(DIA)))
    assert got == pg_funnel(conn, tenant["id"], DIA)
    assert sum(v["criados"] for v in got.values()) == 300  # the next day's 50 are not in it
    assert sum(v["erro"] for v in got.values()) > 0 and sum(v["pendentes"] for v in got.values()) > 0
    other = mart_funnel(funil.read(mart, other_tenant["id"], _all_days(DIA)))
    assert other == pg_funnel(conn, other_tenant["id"], DIA)
    assert not set(got) & set(other)  # each tenant sees its own campaigns only


def test_a_day_is_the_tenant_local_day(conn, database_url, tmp_path) -> None:
    sp, _ = create_tenant(conn, "sampa", timezone="America/Sao_Paulo")  # UTC-3
    nor, _ = create_tenant(conn, "noronha", timezone="America/Noronha")  # UTC-2
    for t in (sp, nor):
        seed_day(conn, [t.id], DIA, 2, campanhas_por_tenant=1)
    # 02:30 UTC on the 10th: 23:30 of the 9th in São Paulo, 00:30 of the 10th in Noronha
    conn.execute(
        "UPDATE disparos SET created_at = '2025-03-10 02:30:00+00' WHERE status = 'enviado' AND tenant_id = ANY(%s)",
        ([sp.id, nor.id],),
    )
    mart = build(conn, database_url, tmp_path, DIA)
    build(conn, database_url, tmp_path, DIA + timedelta(days=1))
    count = lambda t, d: sum(r["criados"] for r in funil.read(mart, t.id, _all_days(d)).to_pylist())  # noqa: E731
    assert (count(sp, DIA), count(sp, DIA + timedelta(days=1))) == (2, 0)
    assert (count(nor, DIA), count(nor, DIA + timedelta(days=1))) == (1, 1)


def test_rebuilding_a_day_replaces_it(conn, database_url, tenant, tmp_path) -> None:
    seed_day(conn, [tenant["id"]], DIA, 100, campanhas_por_tenant=2)
    mart = build(conn, database_url, tmp_path, DIA)
    before = mart_funnel(funil.read(mart, tenant["id"], _all_days(DIA)))
    assert sum(v["pendentes"] for v in before.values()) == 5

    conn.execute(
        "UPDATE disparos SET status = 'enviado', data_envio = data_agendado WHERE status = 'pendente'"
    )
    build(conn, database_url, tmp_path, DIA)
    after = mart_funnel(funil.read(mart, tenant["id"], _all_days(DIA)))
    assert after == pg_funnel(conn, tenant["id"], DIA)
    assert sum(v["pendentes"] for v in after.values()) == 0
    assert sum(v["criados"] for v in after.values()) == 100  # replaced, not added
    assert len(list((tmp_path / "funil").glob("dia=*/*.parquet"))) == 1
    assert not list((tmp_path / ".tmp").iterdir())  # no staging leftovers


def test_ingest_quality_per_job(conn, database_url, tenant, cli, tmp_path) -> None:
    sheet = write_xlsx(
        tmp_path / "Leads.xlsx",
        [
            ["id", "nome", "telefone", "email"],
            ["1", "Alfa", "11 98765-4321", ""],
            ["2", "Beta", "", "beta@example.com"],
            ["3", "Gama", "", ""],
            ["", "Sem id", "", ""],
        ],
    )
    code, _, err = cli("ingest", str(sheet), "--tenant", "acme")
    assert code == 0, err
    today = conn.execute("SELECT (now() AT TIME ZONE 'America/Sao_Paulo')::date AS d").fetchone()["d"]
    mart = build(conn, database_url, tmp_path / "m", today, subjects=("ingest",))
    job = conn.execute("SELECT * FROM ingest_jobs").fetchone()
    with duckdb.connect() as d:
        rows = d.execute(
            "SELECT job_id, linhas_total, linhas_rejeitadas, leads_sem_contato, taxa_rejeicao, taxa_contato_valido "
            f"FROM read_parquet('{mart.day_file('ingest_jobs', today)}')"
        ).fetchall()
        rejects = d.execute(
            f"SELECT motivo, linhas FROM read_parquet('{mart.day_file('ingest_rejeicoes', today)}')"
        ).fetchall()
    assert len(rows) == 1
    job_id, total, rejeitadas, sem_contato, taxa_rej, taxa_contato = rows[0]
    assert str(job_id) == str(job["job_id"])
    assert (total, rejeitadas, sem_contato) == (job["linhas_total"], 1, 1)
    assert taxa_rej == pytest.approx(1 / total)
    assert taxa_contato == pytest.approx(2 / 3)  # Alfa and Beta of the three loaded leads
    db_rejects = conn.execute("SELECT motivo, count(*) AS n FROM ingest_rejeicoes GROUP BY 1").fetchall()
    assert sorted(rejects) == sorted((r["motivo"], r["n"]) for r in db_rejects)


def test_agendamentos_day(conn, database_url, tenant, tmp_path) -> None:
    seed_day(conn, [tenant["id"]], DIA, 3, campanhas_por_tenant=1)
    conn.execute(
        """INSERT INTO agendamentos (tenant_id, lead_id, tipo, canal, data_agendada, data_criacao, status,
                                     realizado_em, cancelado_em, motivo_cancelamento)
           SELECT tenant_id, lead_id, 'callback', 'telefone', '2025-03-12 15:00+00', '2025-03-09 15:00+00', s,
                  CASE WHEN s = 'realizado' THEN now() END, CASE WHEN s = 'cancelado' THEN now() END,
                  CASE WHEN s = 'cancelado' THEN 'desistiu' END
           FROM leads, unnest(ARRAY['pendente', 'realizado', 'cancelado', 'realizado']) AS s
           WHERE tenant_id = %s LIMIT 4""",
        (tenant["id"],),
    )
    conn.execute(
        """INSERT INTO agendamento_lembretes (tenant_id, agendamento_id, destinatario, versao, canal, destino,
                                              status, data_agendado, disponivel_em, idempotency_key, created_at)
           SELECT tenant_id, agendamento_id, 'responsavel', 1, 'email', 'ana@example.com', 'enviado',
                  data_agendada, data_agendada, agendamento_id::text, data_criacao
           FROM agendamentos WHERE status = 'realizado'"""
    )
    mart = build(conn, database_url, tmp_path, DIA, subjects=("agendamentos",))
    with duckdb.connect() as d:
        row = d.execute(
            "SELECT tipo, canal, criados, pendentes, realizados, cancelados, lembretes_enviados "
            f"FROM read_parquet('{mart.day_file('agendamentos', DIA)}')"
        ).fetchall()
    assert row == [("callback", "telefone", 4, 1, 2, 1, 2)]


def test_read_checks_the_filter_and_the_campaign_owner(conn, tenant, other_tenant, tmp_path) -> None:
    seed_day(conn, [other_tenant["id"]], DIA, 4, campanhas_por_tenant=1)
    theirs = conn.execute(
        "SELECT campanha_id FROM campanhas WHERE tenant_id = %s", (other_tenant["id"],)
    ).fetchone()
    with pytest.raises(NotFoundError):
        funil.ensure_campanha(conn, tenant["id"], theirs["campanha_id"])
    funil.ensure_campanha(conn, other_tenant["id"], theirs["campanha_id"])
    with pytest.raises(ValidationError, match="depois"):
        funil.filtro(DIA, DIA - timedelta(days=1), None, None, hoje=DIA)
    with pytest.raises(ValidationError, match="366"):
        funil.filtro(DIA - timedelta(days=400), DIA, None, None, hoje=DIA)
    f = funil.filtro(None, None, None, None, hoje=DIA)
    assert (f.de, f.ate) == (DIA - timedelta(days=29), DIA)
    # an empty mart reads as no rows, with the columns
    empty = funil.read(Mart(tmp_path / "vazio"), tenant["id"], f)
    assert empty.num_rows == 0 and "taxa_falha" in empty.column_names


def test_bench_seed_is_set_based_and_complete(conn, tenant) -> None:
    seed_day(conn, [tenant["id"]], DIA, 1000, campanhas_por_tenant=5)
    rows = conn.execute("SELECT status, count(*) AS n FROM disparos GROUP BY 1").fetchall()
    counts = {r["status"]: r["n"] for r in rows}
    assert counts == {
        "enviado": 800,
        "confirmado": 80,
        "erro": 40,
        "bloqueado": 20,
        "cancelado": 10,
        "pendente": 50,
    }
    dlq = conn.execute("SELECT count(*) AS n FROM disparos_dlq").fetchone()["n"]
    assert dlq == 40


def test_a_removed_mart_reads_as_empty_again(conn, database_url, tenant, tmp_path) -> None:
    import shutil

    seed_day(conn, [tenant["id"]], DIA, 10, campanhas_por_tenant=1)
    mart = build(conn, database_url, tmp_path / "m", DIA)
    assert funil.read(mart, tenant["id"], _all_days(DIA)).num_rows == 1
    shutil.rmtree(tmp_path / "m" / "funil")
    assert funil.read(mart, tenant["id"], _all_days(DIA)).num_rows == 0
    with pytest.raises(ValidationError, match="calendário"):
        funil.filtro(date.max, None, None, None, hoje=DIA)


def test_background_priority_is_nice_10_and_idle_scheduling() -> None:
    """A build in the background (a `mart_diario` run, `relatorio construir`) runs at nice 10 and, on Linux,
    under SCHED_IDLE, in every thread; checked in a child process so the test run keeps its priority."""
    import subprocess
    import sys

    code = (
        "import os, threading; from pipelines.core.reports.build import run_in_background_priority as r\n"
        "ready, done = threading.Event(), threading.Event()\n"
        "t = threading.Thread(target=lambda: (ready.set(), done.wait())); t.start(); ready.wait()\n"
        "r()\n"  # a thread started before (as polars' are, at import) is lowered too
        "print(os.nice(0), os.sched_getscheduler(0) == os.SCHED_IDLE,\n"
        "      os.getpriority(os.PRIO_PROCESS, t.native_id), os.sched_getscheduler(t.native_id) == os.SCHED_IDLE)\n"
        "done.set()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["10", "True", "10", "True"]
