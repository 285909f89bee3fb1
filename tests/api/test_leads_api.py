"""GET /leads and GET /leads/{lead_id} over the real app and database (rows inserted with SQL so these
tests do not depend on the ingest rules)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


def _lead(
    conn, tenant_id, ext: str, nome: str, status: str = "novo", documento: str | None = None
) -> uuid.UUID:
    return conn.execute(
        """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome,
                              contato_nome, documento, documento_tipo, status)
           VALUES (%s, %s, 'Leads.xlsx', 'Leads', 2, %s, 'joao', %s, %s, %s) RETURNING lead_id""",
        (tenant_id, ext, nome, documento, "cnpj" if documento else None, status),
    ).fetchone()["lead_id"]


@pytest.fixture
def leads(conn, tenant, other_tenant) -> dict[str, Any]:
    a = _lead(conn, tenant["id"], "1", "Empresa A", documento="11222333000181")
    b = _lead(conn, tenant["id"], "2", "Empresa B", status="agendado")
    c = _lead(conn, tenant["id"], "3", "Empresa C")
    theirs = _lead(conn, other_tenant["id"], "1", "Deles")
    conn.execute(
        """INSERT INTO lead_telefones (tenant_id, lead_id, telefone, telefone_principal, tipo_origem)
           VALUES (%s, %s, '+5511987654321', true, 'celular'), (%s, %s, '+551133334444', false, 'fixo')""",
        (tenant["id"], a, tenant["id"], a),
    )
    conn.execute(
        "INSERT INTO lead_emails (tenant_id, lead_id, email, email_principal) VALUES (%s, %s, 'a@empresa.com.br', true)",
        (tenant["id"], a),
    )
    return {"a": a, "b": b, "c": c, "theirs": theirs}


def test_list_page_filter_and_total(api_client, tenant, leads) -> None:
    r = api_client.get("/leads", headers=tenant["headers"])
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and body["limit"] == 50 and body["offset"] == 0
    assert {i["nome"] for i in body["items"]} == {
        "Empresa A",
        "Empresa B",
        "Empresa C",
    }  # not the other tenant's
    assert set(body["items"][0]) == {
        "lead_id",
        "nome",
        "contato_nome",
        "documento",
        "status",
        "data_ingestao",
    }

    r = api_client.get("/leads", params={"status": "agendado"}, headers=tenant["headers"])
    assert r.json()["total"] == 1 and r.json()["items"][0]["lead_id"] == str(leads["b"])

    first = api_client.get("/leads", params={"limit": 2}, headers=tenant["headers"]).json()
    rest = api_client.get("/leads", params={"limit": 2, "offset": 2}, headers=tenant["headers"]).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["total"] == 3
    ids = [i["lead_id"] for i in first["items"] + rest["items"]]
    assert len(set(ids)) == 3  # stable order: pages do not overlap

    assert api_client.get("/leads").status_code == 401
    assert api_client.get(f"/leads/{leads['a']}").status_code == 401


def test_list_rejects_bad_parameters(api_client, tenant) -> None:
    cases = [
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "xpto"}, "status"),
    ]
    for params, field in cases:
        r = api_client.get("/leads", params=params, headers=tenant["headers"])
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field
    assert api_client.get("/leads", params={"limit": "muitos"}, headers=tenant["headers"]).status_code == 422
    assert api_client.get("/leads", params={"limit": 500}, headers=tenant["headers"]).status_code == 200


def test_detail_has_phones_and_emails(api_client, tenant, leads) -> None:
    r = api_client.get(f"/leads/{leads['a']}", headers=tenant["headers"])
    assert r.status_code == 200
    lead = r.json()
    assert lead["nome"] == "Empresa A" and lead["documento_tipo"] == "cnpj"
    assert [p["telefone"] for p in lead["telefones"]] == [
        "+5511987654321",
        "+551133334444",
    ]  # principal first
    assert (
        lead["telefones"][0]["telefone_principal"] is True and lead["telefones"][1]["tipo_origem"] == "fixo"
    )
    assert [e["email"] for e in lead["emails"]] == ["a@empresa.com.br"]
    assert api_client.get(f"/leads/{leads['c']}", headers=tenant["headers"]).json()["telefones"] == []


def test_detail_other_tenant_unknown_or_malformed_is_404(api_client, tenant, leads) -> None:
    for target in (leads["theirs"], uuid.uuid4()):
        r = api_client.get(f"/leads/{target}", headers=tenant["headers"])
        assert r.status_code == 404, target
        assert r.headers["content-type"].startswith("application/problem+json")
    for target in ("nao-e-uuid", "1' OR '1'='1"):  # not an id at all: the contract says uuid
        r = api_client.get(f"/leads/{target}", headers=tenant["headers"])
        assert r.status_code == 422 and r.json()["field"] == "lead_id", target


def test_patch_sets_the_outcome_and_is_tenant_scoped(api_client, conn, tenant, other_tenant, leads) -> None:
    h = tenant["headers"]
    for status in ("convertido", "descartado", "novo"):
        r = api_client.patch(f"/leads/{leads['a']}", json={"status": status}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
        assert r.json()["telefones"] and r.json()["data_ultimo_evento"].endswith("Z")
    api_client.patch(f"/leads/{leads['c']}", json={"status": "descartado"}, headers=h)
    page = api_client.get("/leads?status=descartado", headers=h).json()
    assert [x["nome"] for x in page["items"]] == ["Empresa C"]
    for body in (
        {"status": "em_disparo"},
        {"status": "agendado"},
        {"status": "ganho"},
        {},
        {"status": "novo", "x": 1},
    ):
        r = api_client.patch(f"/leads/{leads['a']}", json=body, headers=h)
        assert r.status_code == 422, body
    # another tenant's lead: 404, untouched
    r = api_client.patch(f"/leads/{leads['theirs']}", json={"status": "convertido"}, headers=h)
    assert r.status_code == 404
    row = conn.execute("SELECT status FROM leads WHERE lead_id = %s", (leads["theirs"],)).fetchone()
    assert row["status"] == "novo"
