"""POST /leads/{lead_id}/disparos: validation (each error names its field, nothing is stored), idempotency
keys, tenant isolation, list/get/cancel and the lead status."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from disparos_support import make_lead, make_template

FUTURE = "2099-01-02T09:00:00Z"


@pytest.fixture
def world(conn, tenant, other_tenant):
    make_template(conn, tenant["id"])  # whatsapp "cobranca": {{contato_nome}} {{nome}} {{valor}}
    make_template(
        conn,
        tenant["id"],
        nome="boas_vindas",
        canal="email",
        corpo="Oi {{nome}}",
        assunto="Olá {{contato_nome}}",
    )
    lead = make_lead(
        conn, tenant["id"], nome="ACME Ltda", contato_nome="Maria",
        phones=[("+5511911110000", "celular", True, True), ("+5511933330000", "celular", False, False),
                ("+551133334444", "fixo", False, True)],
        emails=[("maria@acme.com.br", True, True)],
    )  # fmt: skip
    other = make_lead(conn, tenant["id"], phones=[("+5511922220000", "celular", True, True)])
    foreign = make_lead(conn, other_tenant["id"], phones=[("+5511944440000", "celular", True, True)])
    return {"lead": lead, "other": other, "foreign": foreign}


def _post(api_client, tenant, lead_id, body, **headers):
    return api_client.post(f"/leads/{lead_id}/disparos", json=body, headers={**tenant["headers"], **headers})


def _count(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM disparos").fetchone()["n"]


def test_create_scheduled_renders_and_moves_lead(api_client, conn, tenant, world) -> None:
    lead = world["lead"]
    before = conn.execute(
        "SELECT data_ultimo_evento FROM leads WHERE lead_id = %s", (lead["lead_id"],)
    ).fetchone()
    r = _post(api_client, tenant, lead["lead_id"], {
        "canal": "whatsapp", "telefone_id": lead["telefones"][0], "template": "cobranca",
        "payload": {"variaveis": {"valor": "R$ 1.250,00"}}, "agendar_para": FUTURE,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"disparo_id", "status", "data_agendado"}
    assert body["status"] == "pendente"
    assert datetime.fromisoformat(body["data_agendado"]) == datetime(2099, 1, 2, 9, tzinfo=ZoneInfo("UTC"))
    d = api_client.get(f"/disparos/{body['disparo_id']}", headers=tenant["headers"]).json()
    assert d["destino"] == "+5511911110000" and d["template"] == "cobranca"
    assert d["payload"]["mensagem"] == "Olá Maria, a ACME Ltda tem R$ 1.250,00 em aberto."
    assert d["payload"]["variaveis"] == {"contato_nome": "Maria", "nome": "ACME Ltda", "valor": "R$ 1.250,00"}
    row = conn.execute(
        "SELECT status, data_ultimo_evento FROM leads WHERE lead_id = %s", (lead["lead_id"],)
    ).fetchone()
    assert row["status"] == "em_disparo" and row["data_ultimo_evento"] > before["data_ultimo_evento"]


def test_email_default_destination_subject_and_variable_override(api_client, tenant, world) -> None:
    r = _post(api_client, tenant, world["lead"]["lead_id"], {
        "canal": "email", "template": "boas_vindas", "payload": {"variaveis": {"nome": "Dona Maria"}},
        "agendar_para": FUTURE,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    d = api_client.get(f"/disparos/{r.json()['disparo_id']}", headers=tenant["headers"]).json()
    assert d["destino"] == "maria@acme.com.br" and d["email_id"] == world["lead"]["emails"][0]
    assert d["payload"]["assunto"] == "Olá Maria" and d["payload"]["mensagem"] == "Oi Dona Maria"


def test_naive_time_is_read_in_tenant_time_zone(api_client, tenant, world) -> None:
    r = _post(api_client, tenant, world["lead"]["lead_id"], {
        "canal": "whatsapp", "template": "cobranca", "payload": {"variaveis": {"valor": "1"}},
        "agendar_para": "2099-03-01T09:00:00",
    })  # fmt: skip
    assert r.status_code == 201
    when = datetime.fromisoformat(r.json()["data_agendado"])
    assert when == datetime(2099, 3, 1, 9, tzinfo=ZoneInfo("America/Sao_Paulo"))  # 12:00Z


def test_default_phone_skips_invalid_and_landline(api_client, conn, tenant) -> None:
    make_template(conn, tenant["id"], corpo="Oi {{nome}}")
    lead = make_lead(conn, tenant["id"], phones=[
        ("+5511955550000", "celular", True, False), ("+551133335555", "fixo", False, True),
        ("+5511966660000", "nao_classificado", False, True),
    ])  # fmt: skip
    r = _post(
        api_client,
        tenant,
        lead["lead_id"],
        {"canal": "whatsapp", "template": "cobranca", "agendar_para": FUTURE},
    )
    assert r.status_code == 201, r.text
    d = api_client.get(f"/disparos/{r.json()['disparo_id']}", headers=tenant["headers"]).json()
    assert d["destino"] == "+5511966660000"


CASES = [
    ("canal_invalido", 422, "canal"),
    ("sem_template", 422, "template"),
    ("template_email_inexistente", 422, "template"),
    ("variavel_ausente", 422, "payload.variaveis"),
    ("telefone_de_outro_lead", 422, "telefone_id"),
    ("telefone_malformado", 422, "telefone_id"),
    ("telefone_invalido", 422, "telefone_id"),
    ("telefone_fixo", 422, "telefone_id"),
    ("email_id_no_whatsapp", 422, "email_id"),
    ("telefone_id_no_email", 422, "telefone_id"),
    ("email_sem_email", 422, "email_id"),
    ("agendar_malformado", 422, "agendar_para"),
    ("agendar_so_data", 422, "agendar_para"),
    ("agendar_numero", 422, "agendar_para"),
    ("campo_desconhecido", 422, "extra"),
    ("optout", 409, "telefone_id"),  # last: it adds the opt-out
]


def test_validation_errors_name_the_field_and_store_nothing(api_client, conn, tenant, world) -> None:
    """One database for all cases (each failure must leave nothing behind for the next)."""
    for case, status, field in CASES:
        _check_case(api_client, conn, tenant, world, case, status, field)


def _check_case(api_client, conn, tenant, world, case, status, field) -> None:
    lead, other = world["lead"], world["other"]
    base = {
        "canal": "whatsapp",
        "template": "cobranca",
        "payload": {"variaveis": {"valor": "1"}},
        "agendar_para": FUTURE,
    }
    lead_id = lead["lead_id"]
    body = dict(base)
    if case == "canal_invalido":
        body["canal"] = "sms"
    elif case == "sem_template":
        del body["template"]
    elif case == "template_email_inexistente":  # e-mail has no provider templates: it must exist here
        body.update(canal="email", template="cobranca")
        body.pop("telefone_id", None)
    elif case == "variavel_ausente":
        body["payload"] = {"variaveis": {}}
    elif case == "telefone_de_outro_lead":
        body["telefone_id"] = other["telefones"][0]
    elif case == "telefone_malformado":
        body["telefone_id"] = "nao-e-uuid"
    elif case == "telefone_invalido":
        body["telefone_id"] = lead["telefones"][1]
    elif case == "telefone_fixo":
        body["telefone_id"] = lead["telefones"][2]
    elif case == "email_id_no_whatsapp":
        body["email_id"] = lead["emails"][0]
    elif case == "telefone_id_no_email":
        body.update(canal="email", template="boas_vindas", telefone_id=lead["telefones"][0])
    elif case == "email_sem_email":
        body.update(canal="email", template="boas_vindas")
        lead_id = other["lead_id"]
    elif case == "agendar_malformado":
        body["agendar_para"] = "amanhã às 9"
    elif case == "agendar_so_data":
        body["agendar_para"] = "2099-01-02"
    elif case == "agendar_numero":
        body["agendar_para"] = 1234
    elif case == "campo_desconhecido":
        body["extra"] = 1
    elif case == "optout":
        api_client.post(
            "/optouts", json={"canal": "whatsapp", "destino": "(11) 91111-0000"}, headers=tenant["headers"]
        )
    r = _post(api_client, tenant, lead_id, body)
    assert r.status_code == status, (case, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field, (case, r.json())
    assert _count(conn) == 0
    assert (
        conn.execute("SELECT status FROM leads WHERE lead_id = %s", (lead_id,)).fetchone()["status"] == "novo"
    )


def test_lead_of_other_tenant_or_missing_is_404(api_client, conn, tenant, world) -> None:
    for lead_id in (world["foreign"]["lead_id"], "00000000-0000-4000-8000-000000000000"):
        r = _post(api_client, tenant, lead_id, {"canal": "whatsapp", "template": "cobranca",
                                                 "payload": {"variaveis": {"valor": "1"}}})  # fmt: skip
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), (
            lead_id
        )
        assert api_client.get(f"/leads/{lead_id}/disparos", headers=tenant["headers"]).status_code == 404
    assert _count(conn) == 0


def test_idempotency_key_replay_and_conflict(api_client, conn, tenant, world) -> None:
    lead_id = world["lead"]["lead_id"]
    body = {
        "canal": "whatsapp",
        "template": "cobranca",
        "payload": {"variaveis": {"valor": "1"}},
        "agendar_para": FUTURE,
    }
    first = _post(api_client, tenant, lead_id, body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    again = _post(api_client, tenant, lead_id, body, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json() == first.json()
    assert _count(conn) == 1
    changed = _post(
        api_client,
        tenant,
        lead_id,
        {**body, "payload": {"variaveis": {"valor": "2"}}},
        **{"Idempotency-Key": "k-1"},
    )
    assert changed.status_code == 409 and changed.json()["field"] == "Idempotency-Key"
    other_lead = _post(api_client, tenant, world["other"]["lead_id"], body, **{"Idempotency-Key": "k-1"})
    assert other_lead.status_code == 409
    assert _post(api_client, tenant, lead_id, body, **{"Idempotency-Key": "k-2"}).status_code == 201
    assert _count(conn) == 2
    # A failed request does not burn its key: fixing the body with the same key works.
    bad = _post(
        api_client, tenant, lead_id, {**body, "payload": {"variaveis": {}}}, **{"Idempotency-Key": "k-3"}
    )
    assert bad.status_code == 422
    assert _post(api_client, tenant, lead_id, body, **{"Idempotency-Key": "k-3"}).status_code == 201


def test_idempotency_keys_are_per_tenant(api_client, conn, tenant, other_tenant, world) -> None:
    make_template(conn, other_tenant["id"])
    body = {
        "canal": "whatsapp",
        "template": "cobranca",
        "payload": {"variaveis": {"valor": "1"}},
        "agendar_para": FUTURE,
    }
    a = _post(api_client, tenant, world["lead"]["lead_id"], body, **{"Idempotency-Key": "same"})
    b = _post(api_client, other_tenant, world["foreign"]["lead_id"], body, **{"Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201 and a.json()["disparo_id"] != b.json()["disparo_id"]


def test_list_get_cancel_and_isolation(api_client, conn, tenant, other_tenant, world) -> None:
    lead_id = world["lead"]["lead_id"]
    body = {
        "canal": "whatsapp",
        "template": "cobranca",
        "payload": {"variaveis": {"valor": "1"}},
        "agendar_para": FUTURE,
    }
    ids = [_post(api_client, tenant, lead_id, body).json()["disparo_id"] for _ in range(2)]
    page = api_client.get(f"/leads/{lead_id}/disparos", headers=tenant["headers"]).json()
    assert page["total"] == 2 and {i["disparo_id"] for i in page["items"]} == set(ids)
    assert (
        api_client.get(f"/leads/{lead_id}/disparos?status=xyz", headers=tenant["headers"]).status_code == 422
    )
    # Other tenant: every route is a 404.
    assert api_client.get(f"/disparos/{ids[0]}", headers=other_tenant["headers"]).status_code == 404
    assert api_client.post(f"/disparos/{ids[0]}/cancelar", headers=other_tenant["headers"]).status_code == 404
    assert api_client.get(f"/leads/{lead_id}/disparos", headers=other_tenant["headers"]).status_code == 404
    assert api_client.get("/disparos/nao-uuid", headers=tenant["headers"]).status_code == 422  # not an id
    r = api_client.post(f"/disparos/{ids[0]}/cancelar", headers=tenant["headers"])
    assert r.status_code == 200 and r.json()["status"] == "cancelado"
    again = api_client.post(f"/disparos/{ids[0]}/cancelar", headers=tenant["headers"])
    assert again.status_code == 409 and "cancelado" in again.json()["detail"]
    conn.execute("UPDATE disparos SET status = 'enviado' WHERE disparo_id = %s", (ids[1],))
    assert api_client.post(f"/disparos/{ids[1]}/cancelar", headers=tenant["headers"]).status_code == 409


def test_requires_auth(api_client, world) -> None:
    r = api_client.post(
        f"/leads/{world['lead']['lead_id']}/disparos", json={"canal": "whatsapp", "template": "x"}
    )
    assert r.status_code == 401


def test_immediate_without_mcp_endpoint_stays_pendente(api_client, conn, tenant, world, monkeypatch) -> None:
    """The immediate path is best-effort: with no MCP configured the row waits for the sensor."""
    monkeypatch.delenv("MCP_WHATSAPP_ENDPOINT", raising=False)
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT", raising=False)
    past = (datetime.now(ZoneInfo("UTC")) - timedelta(hours=1)).isoformat()
    r = _post(api_client, tenant, world["lead"]["lead_id"], {
        "canal": "whatsapp", "template": "cobranca", "payload": {"variaveis": {"valor": "1"}}, "agendar_para": past,
    })  # fmt: skip
    assert r.status_code == 201
    assert datetime.fromisoformat(r.json()["data_agendado"]) > datetime.fromisoformat(past)  # past -> now
    d = api_client.get(f"/disparos/{r.json()['disparo_id']}", headers=tenant["headers"]).json()
    assert d["status"] == "pendente"
