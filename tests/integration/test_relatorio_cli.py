"""`disparo-agenda relatorio construir|funil`: the mart built without Dagster and read per tenant."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from bench.mart_data import seed_day

DIA = date(2025, 3, 9)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    return tmp_path


def test_build_then_read_each_tenant_its_own(cli, conn, tenant, other_tenant, home) -> None:
    seed_day(conn, [tenant["id"]], DIA, 30, campanhas_por_tenant=2)
    seed_day(conn, [other_tenant["id"]], DIA, 10, campanhas_por_tenant=1)
    code, out, err = cli("relatorio", "construir", "--dia", str(DIA))
    assert code == 0, err
    assert f"{DIA} funil" in out and (home / "mart" / "mart.duckdb").exists()

    code, out, _ = cli(
        "relatorio", "funil", "--tenant", "acme", "--de", str(DIA), "--ate", str(DIA), "--formato", "json"
    )
    assert code == 0
    rows = json.loads(out)["linhas"]
    mine = {
        r["c"]
        for r in conn.execute(
            "SELECT campanha_id::text AS c FROM campanhas WHERE tenant_id = %s", (tenant["id"],)
        )
    }
    assert {r["campanha_id"] for r in rows} == mine and sum(r["criados"] for r in rows) == 30

    code, out, _ = cli("relatorio", "funil", "--tenant", "outra", "--de", str(DIA), "--ate", str(DIA))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["dia", "canal", "campanha_id"] and len(lines) == 2  # one campaign

    target = home / "funil.parquet"
    code, _, err = cli("relatorio", "funil", "--tenant", "acme", "--de", str(DIA), "--ate", str(DIA),
                       "--formato", "parquet", "-o", str(target))  # fmt: skip
    assert code == 0 and pq.read_table(target).num_rows == len(rows)


def test_errors_are_one_line(cli, tenant, other_tenant, conn, home) -> None:
    code, _, err = cli("relatorio", "funil", "--tenant", "ninguem")
    assert code == 2 and err.startswith("erro: tenant desconhecido") and len(err.strip().splitlines()) == 1
    seed_day(conn, [other_tenant["id"]], DIA, 2, campanhas_por_tenant=1)
    theirs = conn.execute("SELECT campanha_id::text AS c FROM campanhas").fetchone()["c"]
    code, _, err = cli("relatorio", "funil", "--tenant", "acme", "--campanha", theirs)
    assert code == 2 and "não encontrada" in err
    code, _, err = cli("relatorio", "funil", "--tenant", "acme", "--de", "2025-03-10", "--ate", "2025-03-09")
    assert code == 2 and err.startswith("erro: 'de'")
    code, _, err = cli("relatorio", "funil", "--tenant", "acme", "--formato", "parquet")
    assert code == 2 and "-o" in err
