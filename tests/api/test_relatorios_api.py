"""GET /relatorios/funil: the caller's tenant only, typed filters, JSON / CSV / Parquet from the mart."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pyarrow.parquet as pq
import pytest
from mart_support import build

from bench.mart_data import seed_day

DIA = date(2025, 3, 9)


@pytest.fixture
def mart_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def two_tenants_mart(conn, database_url, tenant, other_tenant, mart_home):
    seed_day(conn, [tenant["id"]], DIA, 60, campanhas_por_tenant=2)
    seed_day(conn, [other_tenant["id"]], DIA, 40, campanhas_por_tenant=2)
    seed_day(conn, [tenant["id"]], DIA - timedelta(days=1), 20, campanhas_por_tenant=2)
    for d in (DIA - timedelta(days=1), DIA):
        build(conn, database_url, mart_home / "mart", d)


def _campaigns(conn, tenant_id) -> set[str]:
    rows = conn.execute("SELECT campanha_id::text AS c FROM campanhas WHERE tenant_id = %s", (tenant_id,))
    return {r["c"] for r in rows}


def test_json_rows_are_the_callers_tenant_only(
    api_client, conn, tenant, other_tenant, two_tenants_mart
) -> None:
    r = api_client.get(
        "/relatorios/funil",
        params={"de": str(DIA - timedelta(days=1)), "ate": str(DIA)},
        headers=tenant["headers"],
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["de"], doc["ate"]) == (str(DIA - timedelta(days=1)), str(DIA))
    assert {row["campanha_id"] for row in doc["linhas"]} == _campaigns(conn, tenant["id"])
    assert sum(row["criados"] for row in doc["linhas"]) == 80
    assert {row["dia"] for row in doc["linhas"]} == {str(DIA - timedelta(days=1)), str(DIA)}

    other = api_client.get(
        "/relatorios/funil", params={"de": str(DIA), "ate": str(DIA)}, headers=other_tenant["headers"]
    )
    assert {row["campanha_id"] for row in other.json()["linhas"]} == _campaigns(conn, other_tenant["id"])
    assert sum(row["criados"] for row in other.json()["linhas"]) == 40


def test_filters_by_canal_and_campaign(api_client, conn, tenant, two_tenants_mart) -> None:
    mine = [conn.execute(
        "SELECT campanha_id::text AS c FROM campanhas WHERE tenant_id = %s AND nome LIKE %s LIMIT 1",
        (tenant["id"], f"mart {DIA} %"),
    ).fetchone()["c"]]  # fmt: skip
    r = api_client.get(
        "/relatorios/funil",
        params={"de": str(DIA), "ate": str(DIA), "campanha_id": mine[0]},
        headers=tenant["headers"],
    )
    assert r.status_code == 200 and {row["campanha_id"] for row in r.json()["linhas"]} == {mine[0]}
    r = api_client.get(
        "/relatorios/funil",
        params={"de": str(DIA), "ate": str(DIA), "canal": "email"},
        headers=tenant["headers"],
    )
    assert r.json()["linhas"] and {row["canal"] for row in r.json()["linhas"]} == {"email"}


def test_another_tenants_campaign_is_404(api_client, conn, tenant, other_tenant, two_tenants_mart) -> None:
    theirs = sorted(_campaigns(conn, other_tenant["id"]))[0]
    r = api_client.get("/relatorios/funil", params={"campanha_id": theirs}, headers=tenant["headers"])
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "campanha_id"


def test_csv_and_parquet_hold_the_same_rows_as_json(api_client, tenant, two_tenants_mart) -> None:
    params = {"de": str(DIA - timedelta(days=1)), "ate": str(DIA)}
    rows = api_client.get("/relatorios/funil", params=params, headers=tenant["headers"]).json()["linhas"]

    r = api_client.get("/relatorios/funil", params={**params, "formato": "csv"}, headers=tenant["headers"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [(t["dia"], t["campanha_id"], int(t["criados"])) for t in table] == [
        (x["dia"], x["campanha_id"], x["criados"]) for x in rows
    ]

    r = api_client.get(
        "/relatorios/funil", params={**params, "formato": "parquet"}, headers=tenant["headers"]
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    got = pq.read_table(io.BytesIO(r.content)).to_pylist()
    assert [(g["dia"].isoformat(), str(g["campanha_id"]), g["criados"], g["erro"]) for g in got] == [
        (x["dia"], x["campanha_id"], x["criados"], x["erro"]) for x in rows
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"de": "2025-03-10", "ate": "2025-03-09"}, "de"),
        ({"de": "2024-01-01", "ate": "2025-03-09"}, "ate"),
        ({"canal": "sms"}, "canal"),
        ({"formato": "xlsx"}, "formato"),
        ({"de": "09/03/2025"}, "de"),
        ({"campanha_id": "nao-e-uuid"}, "campanha_id"),
        ({"outro": "1"}, "outro"),
    ],
)
def test_bad_filters_are_422_problems(api_client, tenant, mart_home, params, field) -> None:
    r = api_client.get("/relatorios/funil", params=params, headers=tenant["headers"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_needs_an_api_key_and_an_empty_mart_is_no_rows(api_client, tenant, mart_home) -> None:
    assert api_client.get("/relatorios/funil").status_code == 401
    r = api_client.get("/relatorios/funil", headers=tenant["headers"])
    assert r.status_code == 200 and r.json()["linhas"] == []
