"""Agendamentos over HTTP: validation, transitions, tenant isolation, lead status, double booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from agendamentos_support import future, make_lead


@pytest.fixture
def lead(conn, tenant) -> str:
    return make_lead(conn, tenant["id"])


def _post(api_client, tenant, lead_id, **body):
    payload = {"tipo": "callback", "canal": "telefone", "data_agendada": future(120), **body}
    return api_client.post(f"/leads/{lead_id}/agendamentos", json=payload, headers=tenant["headers"])


def _lead_status(conn, lead_id: str) -> str:
    return conn.execute("SELECT status FROM leads WHERE lead_id = %s", (lead_id,)).fetchone()["status"]


def test_create_returns_seed_fields_and_moves_lead(api_client, conn, tenant, lead) -> None:
    r = _post(
        api_client,
        tenant,
        lead,
        observacoes="Cliente prefere contato à tarde.",
        responsavel="Ana@Empresa.com",
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "pendente" and doc["agendamento_id"] and doc["data_agendada"].endswith("Z")
    assert doc["responsavel"] == "ana@empresa.com" and doc["versao"] == 1
    assert _lead_status(conn, lead) == "agendado"
    # reminder planned for the responsável at data_agendada - tenant default (30 min)
    detail = api_client.get(f"/agendamentos/{doc['agendamento_id']}", headers=tenant["headers"]).json()
    (lembrete,) = detail["lembretes"]
    assert lembrete["destinatario"] == "responsavel" and lembrete["canal"] == "email"
    assert lembrete["idempotency_key"] == f"{doc['agendamento_id']}:responsavel:1"
    due = datetime.fromisoformat(lembrete["data_agendado"])
    assert due == datetime.fromisoformat(doc["data_agendada"]) - timedelta(minutes=30)


def test_time_without_offset_is_read_in_tenant_timezone(api_client, tenant, lead) -> None:
    local = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=2)).replace(
        hour=14, minute=0, second=0, microsecond=0, tzinfo=None
    )
    r = _post(api_client, tenant, lead, data_agendada=local.isoformat())
    assert r.status_code == 201, r.text
    got = datetime.fromisoformat(r.json()["data_agendada"])
    assert got == local.replace(tzinfo=ZoneInfo("America/Sao_Paulo")).astimezone(UTC)
    assert r.json()["data_agendada_local"].endswith("14:00 (America/Sao_Paulo)")


_INVALID = [
    ({"tipo": "visita"}, "tipo"),
    ({"canal": "sms"}, "canal"),
    ({"data_agendada": "2020-01-01T10:00:00Z"}, "data_agendada"),
    ({"data_agendada": "amanhã às 10"}, "data_agendada"),
    ({"data_agendada": "2030-01-01"}, "data_agendada"),
    ({"data_agendada": "9999-12-31T23:59:00-03:00"}, "data_agendada"),
    ({"data_agendada": None}, "data_agendada"),
    ({"lembrete_minutos": -5}, "lembrete_minutos"),
    ({"lembrete_minutos": 1.5}, "lembrete_minutos"),
    ({"responsavel": "não sei"}, "responsavel"),
    ({"responsavel": "ana@"}, "responsavel"),
    ({"observacoes": "x" * 2001}, "observacoes"),
    ({"desconhecido": 1}, "desconhecido"),
]


def test_validation_is_problem_json_naming_the_field(api_client, conn, tenant, lead) -> None:
    for body, field in _INVALID:  # one database for all cases: fast
        r = _post(api_client, tenant, lead, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field, (body, r.json())
    assert conn.execute("SELECT count(*) AS n FROM agendamentos").fetchone()["n"] == 0
    assert _lead_status(conn, lead) == "novo"


def test_unknown_and_other_tenant_lead_are_404_malformed_422(api_client, conn, tenant, other_tenant) -> None:
    foreign = make_lead(conn, other_tenant["id"])
    for lead_id in (foreign, "00000000-0000-0000-0000-000000000000"):
        r = _post(api_client, tenant, lead_id)
        assert r.status_code == 404, (lead_id, r.text)
    r = _post(api_client, tenant, "not-a-uuid")
    assert r.status_code == 422 and r.json()["field"] == "lead_id"
    assert api_client.post(f"/leads/{foreign}/agendamentos", json={}).status_code == 401


def test_transitions_and_lead_status_restored(api_client, conn, tenant) -> None:
    lead = make_lead(conn, tenant["id"], status="em_disparo")
    h = tenant["headers"]
    a1 = _post(api_client, tenant, lead, data_agendada=future(60)).json()["agendamento_id"]
    a2 = _post(api_client, tenant, lead, data_agendada=future(180), responsavel="ana@x.com").json()[
        "agendamento_id"
    ]
    assert _lead_status(conn, lead) == "agendado"

    r = api_client.post(f"/agendamentos/{a1}/realizado", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "realizado" and r.json()["realizado_em"]
    assert _lead_status(conn, lead) == "agendado"  # a2 still pending
    for action, body in (
        ("cancelar", {"motivo": "x"}),
        ("realizado", None),
        ("reagendar", {"data_agendada": future(300)}),
    ):
        r = api_client.post(f"/agendamentos/{a1}/{action}", json=body, headers=h)
        assert r.status_code == 409, (action, r.text)

    r = api_client.post(f"/agendamentos/{a2}/cancelar", json={}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "motivo"
    r = api_client.post(f"/agendamentos/{a2}/cancelar", headers=h)  # no body at all
    assert r.status_code == 422
    r = api_client.post(f"/agendamentos/{a2}/cancelar", json={"motivo": "cliente desistiu"}, headers=h)
    doc = r.json()
    assert r.status_code == 200 and doc["status"] == "cancelado"
    assert doc["cancelado_em"] and doc["motivo_cancelamento"] == "cliente desistiu"
    assert _lead_status(conn, lead) == "em_disparo"  # back to the status before 'agendado'
    states = conn.execute(
        "SELECT status FROM agendamento_lembretes WHERE agendamento_id = %s", (a2,)
    ).fetchall()
    assert [s["status"] for s in states] == ["cancelado"]


def test_converted_lead_keeps_its_status(api_client, conn, tenant) -> None:
    lead = make_lead(conn, tenant["id"], status="convertido")
    aid = _post(api_client, tenant, lead).json()["agendamento_id"]
    assert _lead_status(conn, lead) == "convertido"
    api_client.post(f"/agendamentos/{aid}/cancelar", json={"motivo": "x"}, headers=tenant["headers"])
    assert _lead_status(conn, lead) == "convertido"


def test_reagendar_bumps_versao_and_replans_reminders(api_client, conn, tenant, lead) -> None:
    h = tenant["headers"]
    aid = _post(api_client, tenant, lead, responsavel="+55 11 98765-4321").json()["agendamento_id"]
    r = api_client.post(f"/agendamentos/{aid}/reagendar", json={"data_agendada": future(600)}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["versao"] == 2 and r.json()["status"] == "pendente"
    lembretes = api_client.get(f"/agendamentos/{aid}", headers=h).json()["lembretes"]
    by_versao = {lem["versao"]: lem for lem in lembretes}
    assert by_versao[1]["status"] == "cancelado" and by_versao[2]["status"] == "pendente"
    assert by_versao[2]["canal"] == "whatsapp" and by_versao[2]["destino"] == "+5511987654321"
    assert by_versao[2]["idempotency_key"].endswith(":responsavel:2")
    r = api_client.post(
        f"/agendamentos/{aid}/reagendar", json={"data_agendada": "2001-01-01T00:00:00Z"}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "data_agendada"


def test_get_and_list_are_tenant_scoped_and_paged(api_client, conn, tenant, other_tenant, lead) -> None:
    h = tenant["headers"]
    ids = [
        _post(api_client, tenant, lead, data_agendada=future(60 * (i + 1))).json()["agendamento_id"]
        for i in range(3)
    ]
    other_lead = make_lead(conn, other_tenant["id"])
    foreign = _post(api_client, other_tenant, other_lead).json()["agendamento_id"]
    api_client.post(f"/agendamentos/{ids[0]}/cancelar", json={"motivo": "x"}, headers=h)

    page = api_client.get("/agendamentos", params={"limit": 2}, headers=h).json()
    assert page["total"] == 3 and [i["agendamento_id"] for i in page["items"]] == ids[:2]
    page = api_client.get("/agendamentos", params={"status": "pendente"}, headers=h).json()
    assert page["total"] == 2
    page = api_client.get("/agendamentos", params={"de": future(90), "ate": future(150)}, headers=h).json()
    assert [i["agendamento_id"] for i in page["items"]] == [ids[1]]
    page = api_client.get("/agendamentos", params={"lead_id": lead, "offset": 2}, headers=h).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    for params, field in (({"status": "feito"}, "status"), ({"de": "ontem"}, "de"), ({"limit": 0}, "limit"),
                          ({"lead_id": "x"}, "lead_id")):  # fmt: skip
        r = api_client.get("/agendamentos", params=params, headers=h)
        assert r.status_code == 422 and r.json()["field"] == field

    assert api_client.get(f"/agendamentos/{foreign}", headers=h).status_code == 404
    assert api_client.get("/agendamentos/nao-e-uuid", headers=h).status_code == 422
    for action, body in (
        ("realizado", None),
        ("cancelar", {"motivo": "x"}),
        ("reagendar", {"data_agendada": future(900)}),
    ):
        r = api_client.post(f"/agendamentos/{foreign}/{action}", json=body, headers=h)
        assert r.status_code == 404, (action, r.text)
    assert (
        api_client.get(f"/agendamentos/{foreign}", headers=other_tenant["headers"]).json()["status"]
        == "pendente"
    )


def test_double_booking_same_responsavel(api_client, conn, tenant, lead) -> None:
    h = tenant["headers"]
    base = datetime.now(UTC) + timedelta(hours=5)
    first = _post(api_client, tenant, lead, responsavel="ana@empresa.com", data_agendada=base.isoformat())
    assert first.status_code == 201
    r = _post(
        api_client,
        tenant,
        lead,
        responsavel="ANA@empresa.com",
        data_agendada=(base + timedelta(minutes=20)).isoformat(),
    )
    assert r.status_code == 409 and r.json()["field"] == "data_agendada" and "forcar" in r.json()["detail"]
    # other responsável, or outside the 30 min slot, or forced: fine
    assert (
        _post(
            api_client, tenant, lead, responsavel="bia@empresa.com", data_agendada=base.isoformat()
        ).status_code
        == 201
    )
    later = _post(
        api_client,
        tenant,
        lead,
        responsavel="ana@empresa.com",
        data_agendada=(base + timedelta(minutes=30)).isoformat(),
    )
    assert later.status_code == 201
    forced = _post(
        api_client,
        tenant,
        lead,
        responsavel="ana@empresa.com",
        data_agendada=(base + timedelta(minutes=10)).isoformat(),
        forcar=True,
    )
    assert forced.status_code == 201
    # rescheduling into a taken slot is a conflict too; the slot is a tenant setting
    r = api_client.post(
        f"/agendamentos/{later.json()['agendamento_id']}/reagendar",
        json={"data_agendada": (base + timedelta(minutes=5)).isoformat()},
        headers=h,
    )
    assert r.status_code == 409
    conn.execute("UPDATE tenants SET agendamento_slot_minutos = 5 WHERE id = %s", (tenant["id"],))
    r = _post(
        api_client,
        tenant,
        lead,
        responsavel="ana@empresa.com",
        data_agendada=(base + timedelta(minutes=50)).isoformat(),
    )
    assert r.status_code == 201


def test_idempotency_key_replays_first_result_and_rejects_other_body(api_client, conn, tenant, lead) -> None:
    when = future(180)
    body = {"tipo": "reuniao", "canal": "video", "data_agendada": when}
    headers = {**tenant["headers"], "Idempotency-Key": "ag-1"}
    first = api_client.post(f"/leads/{lead}/agendamentos", json=body, headers=headers)
    again = api_client.post(f"/leads/{lead}/agendamentos", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["agendamento_id"] == first.json()["agendamento_id"]
    count = conn.execute("SELECT count(*) AS n FROM agendamentos WHERE lead_id = %s", (lead,)).fetchone()["n"]
    assert count == 1
    other = api_client.post(
        f"/leads/{lead}/agendamentos", json={**body, "canal": "telefone"}, headers=headers
    )
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    # a failed request does not burn its key
    bad = api_client.post(
        f"/leads/{lead}/agendamentos",
        json={**body, "data_agendada": "ontem"},
        headers={**tenant["headers"], "Idempotency-Key": "ag-2"},
    )
    assert bad.status_code == 422
    ok = api_client.post(f"/leads/{lead}/agendamentos", json={**body, "data_agendada": future(400)},
                         headers={**tenant["headers"], "Idempotency-Key": "ag-2"})  # fmt: skip
    assert ok.status_code == 201
