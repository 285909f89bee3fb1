"""Opt-outs: normalized destinations, idempotent add, paged list, delete, CLI import (COPY)."""

from __future__ import annotations

import json

import pytest

from pipelines.core.disparos.optouts import normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),
        ("11 8765-4321", "+5511987654321"),  # old 8-digit mobile, as the ingest stores it
        ("(11) 3456-7890", "+551134567890"),
        ("+1 415 555 2671", "+14155552671"),
        ("123", None),
        ("0800 123 4567", None),
    ],
)
def test_phone_normalization(raw, e164) -> None:
    assert normalize_phone(raw) == e164


def test_email_normalization() -> None:
    assert normalize_email("  Maria@ACME.com.br ") == "maria@acme.com.br"
    assert normalize_email("sem-arroba") is None


def test_add_list_delete(api_client, tenant, other_tenant) -> None:
    h = tenant["headers"]
    r = api_client.post(
        "/optouts", json={"canal": "whatsapp", "destino": "(11) 98765-4321", "motivo": "pediu"}, headers=h
    )
    assert r.status_code == 201 and r.json()["destino"] == "+5511987654321"
    again = api_client.post("/optouts", json={"canal": "whatsapp", "destino": "+5511987654321"}, headers=h)
    assert again.status_code == 200 and again.json()["motivo"] == "pediu"
    assert (
        api_client.post("/optouts", json={"canal": "email", "destino": "X@Y.COM"}, headers=h).json()[
            "destino"
        ]
        == "x@y.com"
    )
    bad = api_client.post("/optouts", json={"canal": "whatsapp", "destino": "abc"}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "destino"
    assert (
        api_client.post("/optouts", json={"canal": "sms", "destino": "1"}, headers=h).json()["field"]
        == "canal"
    )
    page = api_client.get("/optouts?limit=1", headers=h).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert api_client.get("/optouts?canal=email", headers=h).json()["total"] == 1
    assert api_client.get("/optouts", headers=other_tenant["headers"]).json()["total"] == 0
    # Other tenant cannot remove it; removal accepts any spelling of the number.
    assert api_client.request("DELETE", "/optouts", json={"canal": "whatsapp", "destino": "11987654321"},
                              headers=other_tenant["headers"]).status_code == 404  # fmt: skip
    assert api_client.request("DELETE", "/optouts", json={"canal": "whatsapp", "destino": "11987654321"},
                              headers=h).status_code == 204  # fmt: skip
    assert api_client.delete("/optouts/email/x@y.com", headers=h).status_code == 204
    assert api_client.delete("/optouts/email/x@y.com", headers=h).status_code == 404
    assert api_client.get("/optouts", headers=h).json()["total"] == 0


def test_cli_add_list_remove_import(cli, conn, tenant, tmp_path) -> None:
    code, out, err = cli("optout", "add", "(21) 99999-0000", "--tenant", "acme", "--canal", "whatsapp")
    assert code == 0 and "+5521999990000" in out, err
    csv = tmp_path / "optouts.csv"
    csv.write_text(
        "telefone;motivo\n(11) 98765-4321;pediu\n+55 21 99999-0000;dup\nnao-e-telefone;x\n11987654321;dup na lista\n",
        encoding="utf-8",
    )
    code, out, err = cli("optout", "import", str(csv), "--tenant", "acme", "--canal", "whatsapp", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result == {
        "linhas": 4, "importados": 1, "ja_existentes": 1, "invalidos": 1,
        "linhas_invalidas": [{"linha": 4, "destino_raw": "nao-e-telefone"}],
    }  # fmt: skip
    plain = tmp_path / "lista.txt"
    plain.write_text("Fulano@Exemplo.com\n(31) 98888-7777\n\n", encoding="utf-8")
    code, out, err = cli(
        "optout", "import", str(plain), "--tenant", "acme", "--motivo", "lista antiga", "--json"
    )
    assert code == 0 and json.loads(out)["importados"] == 2, err
    rows = conn.execute("SELECT canal, destino, motivo FROM optouts ORDER BY canal, destino").fetchall()
    assert [(r["canal"], r["destino"]) for r in rows] == [
        ("email", "fulano@exemplo.com"), ("whatsapp", "+5511987654321"),
        ("whatsapp", "+5521999990000"), ("whatsapp", "+5531988887777"),
    ]  # fmt: skip
    code, out, _ = cli("optout", "list", "--tenant", "acme", "--canal", "whatsapp")
    assert code == 0 and "3 de 3" in out
    code, _, _ = cli("optout", "remove", "31988887777", "--tenant", "acme", "--canal", "whatsapp")
    assert code == 0
    code, _, err = cli("optout", "remove", "31988887777", "--tenant", "acme", "--canal", "whatsapp")
    assert code == 2 and err.startswith("erro:")
    code, _, err = cli("optout", "import", str(tmp_path / "nao-existe.csv"), "--tenant", "acme")
    assert code == 2 and "não foi possível ler" in err
