"""Templates: CRUD per tenant and channel, placeholder parsing, strict rendering, CLI."""

from __future__ import annotations

import json

import pytest

from pipelines.core.common.errors import ValidationError
from pipelines.core.disparos.templates import parse, render

WA = {"nome": "cobranca", "canal": "whatsapp", "corpo": "Olá {{ contato_nome }}, {{nome}} deve {{valor}}.",
      "whatsapp_template_id": "cobranca_v1"}  # fmt: skip


def test_render_is_strict_and_parse_rejects_stray_braces() -> None:
    assert render("Oi {{nome}} / {{ nome }}", {"nome": "Ana"}) == "Oi Ana / Ana"
    with pytest.raises(ValidationError) as exc:
        render("Oi {{nome}} {{valor}}", {"nome": "Ana", "valor": None})
    assert "valor" in exc.value.message and exc.value.field == "payload.variaveis"
    for bad in ("Oi {{nome}", "Oi {{ 1x }}", "Oi }} x", "{{nome-completo}}"):
        with pytest.raises(ValidationError):
            parse(bad)
    assert parse("sem variáveis").variables == []


def test_crud(api_client, tenant) -> None:
    h = tenant["headers"]
    r = api_client.post("/templates", json=WA, headers=h)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["variaveis"] == ["contato_nome", "nome", "valor"] and t["whatsapp_template_id"] == "cobranca_v1"
    assert api_client.post("/templates", json=WA, headers=h).status_code == 409
    # Same name on the other channel is another template.
    email = {"nome": "cobranca", "canal": "email", "corpo": "Oi {{nome}}", "assunto": "Fatura {{mes}}"}
    e = api_client.post("/templates", json=email, headers=h)
    assert e.status_code == 201 and e.json()["variaveis"] == ["nome", "mes"]
    assert api_client.get("/templates", headers=h).json()["total"] == 2
    assert [x["canal"] for x in api_client.get("/templates?canal=email", headers=h).json()["items"]] == [
        "email"
    ]
    assert api_client.get(f"/templates/{t['template_id']}", headers=h).json()["nome"] == "cobranca"
    u = api_client.patch(f"/templates/{t['template_id']}", json={"corpo": "Oi {{nome}}"}, headers=h)
    assert (
        u.status_code == 200
        and u.json()["variaveis"] == ["nome"]
        and u.json()["whatsapp_template_id"] == "cobranca_v1"
    )
    assert (
        api_client.put(f"/templates/{e.json()['template_id']}", json={"assunto": ""}, headers=h).status_code
        == 422
    )
    assert api_client.delete(f"/templates/{t['template_id']}", headers=h).status_code == 204
    assert api_client.get(f"/templates/{t['template_id']}", headers=h).status_code == 404
    assert api_client.delete(f"/templates/{t['template_id']}", headers=h).status_code == 404


INVALID = [
    ({"nome": "x", "canal": "sms", "corpo": "a"}, "canal"),
    ({"nome": "x", "canal": "email", "corpo": "a"}, "assunto"),
    ({"nome": "x", "canal": "whatsapp", "corpo": " "}, "corpo"),
    ({"nome": "x", "canal": "whatsapp", "corpo": "Oi {{nome}"}, "corpo"),
    ({"nome": "x", "canal": "email", "corpo": "a", "assunto": "{{ x y }}"}, "assunto"),
    ({"nome": "", "canal": "whatsapp", "corpo": "a"}, "nome"),
    (
        {"nome": "x", "canal": "email", "corpo": "a", "assunto": "s", "whatsapp_template_id": "t"},
        "whatsapp_template_id",
    ),
    ({"canal": "whatsapp", "corpo": "a"}, "nome"),
]


def test_validation(api_client, tenant) -> None:
    for body, field in INVALID:
        r = api_client.post("/templates", json=body, headers=tenant["headers"])
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert api_client.get("/templates", headers=tenant["headers"]).json()["total"] == 0


def test_other_tenant_cannot_see_or_touch(api_client, tenant, other_tenant) -> None:
    t = api_client.post("/templates", json=WA, headers=tenant["headers"]).json()
    oh = other_tenant["headers"]
    assert api_client.get("/templates", headers=oh).json()["total"] == 0
    assert api_client.get(f"/templates/{t['template_id']}", headers=oh).status_code == 404
    assert (
        api_client.patch(f"/templates/{t['template_id']}", json={"corpo": "x"}, headers=oh).status_code == 404
    )
    assert api_client.delete(f"/templates/{t['template_id']}", headers=oh).status_code == 404
    assert api_client.get("/templates/nao-uuid", headers=oh).status_code == 422


def test_cli(cli, tenant, tmp_path) -> None:
    code, out, err = cli("template", "create", "lembrete", "--tenant", "acme", "--canal", "whatsapp",
                         "--corpo", "Oi {{nome}}, vence {{data}}", "--json")  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["variaveis"] == ["nome", "data"]
    corpo = tmp_path / "corpo.txt"
    corpo.write_text("Prezado {{contato_nome}},\nsegue a fatura.", encoding="utf-8")
    code, out, err = cli("template", "create", "fatura", "--tenant", "acme", "--canal", "email",
                         "--corpo-arquivo", str(corpo), "--assunto", "Fatura {{nome}}")  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("template", "list", "--tenant", "acme")
    assert code == 0 and "lembrete" in out and "fatura" in out
    code, out, _ = cli("template", "show", "lembrete", "--tenant", "acme")
    assert code == 0 and "vence {{data}}" in out
    code, _, err = cli(
        "template", "create", "sem_assunto", "--tenant", "acme", "--canal", "email", "--corpo", "x"
    )
    assert code == 2 and err.startswith("erro:") and "assunto" in err
    code, _, err = cli("template", "delete", "lembrete", "--tenant", "acme")
    assert code == 0
    code, _, err = cli("template", "show", created["template_id"], "--tenant", "acme")
    assert code == 2 and "não encontrado" in err
