"""The seed's own API examples (design-v0.1-aws.md, section 6) work verbatim on a fresh tenant, and what
they send reaches the MCP simulator over real HTTP: a WhatsApp template name with no local template goes
to MCP as the provider's `templateId` with the `variaveis`; an e-mail template's HTML body reaches MCP's
`html` (values escaped); `PATCH /leads/{id}` sets the outcome statuses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from disparos_support import make_lead, make_template
from fastapi.testclient import TestClient

from pipelines.core.send.engine import send_due

SEED_DISPARO = {
    "canal": "whatsapp",
    "telefone_id": "uuid",
    "template": "cobranca_padrao_1",
    "payload": {"variaveis": {"nome": "João", "valor_aberto": "R$ 1.250,00"}},
    "agendar_para": "2025-11-27T09:00:00Z",
}
SEED_AGENDAMENTO = {
    "tipo": "callback",
    "canal": "telefone",
    "data_agendada": "2099-11-27T14:00:00Z",  # the seed's 2025 date is in the past by now
    "observacoes": "Cliente prefere contato à tarde.",
}


@pytest.fixture
def sim(wired_sim):
    return wired_sim


@pytest.fixture
def client(database_url, sim) -> Iterator[TestClient]:
    from api_lite.main import create_app

    app = create_app(database_url, max_size=4)
    app.state.immediate_sender = _NoImmediate()  # the test drains with send_due itself
    with TestClient(app) as c:
        yield c


class _NoImmediate:
    def submit(self, disparo_id: str) -> None:
        pass

    def stop(self) -> None:
        pass


def _sent(sim, database_url: str, disparo_id: str) -> dict:
    send_due(database_url, disparo_ids=[disparo_id], time_budget_s=10)
    msgs = httpx.get(f"{sim.url}/sim/messages", params={"idempotency_key": disparo_id}).json()["items"]
    assert len(msgs) == 1, msgs
    return msgs[0]


def test_seed_disparo_verbatim_uses_the_provider_template(client, sim, conn, tenant, database_url) -> None:
    lead = make_lead(conn, tenant["id"], phones=[("+5584997084444", "celular", True, True)])
    body = {**SEED_DISPARO, "telefone_id": lead["telefones"][0]}
    r = client.post(f"/leads/{lead['lead_id']}/disparos", json=body, headers=tenant["headers"])
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == {"disparo_id", "status", "data_agendado"} and doc["status"] == "pendente"
    msg = _sent(sim, database_url, doc["disparo_id"])
    assert msg["to"] == "+5584997084444"
    assert msg["templateId"] == "cobranca_padrao_1"
    assert msg["variables"] == {"nome": "João", "valor_aberto": "R$ 1.250,00"}
    assert msg["message"]  # the seed's contract requires a message: the template's name
    d = client.get(f"/disparos/{doc['disparo_id']}", headers=tenant["headers"]).json()
    assert d["status"] == "enviado" and d["template"] == "cobranca_padrao_1"


def test_local_template_wins_over_the_provider_name(client, sim, conn, tenant, database_url) -> None:
    make_template(conn, tenant["id"], nome="cobranca_padrao_1", corpo="Oi {{nome}}: {{valor_aberto}}")
    lead = make_lead(conn, tenant["id"])
    body = {**SEED_DISPARO, "telefone_id": lead["telefones"][0]}
    r = client.post(f"/leads/{lead['lead_id']}/disparos", json=body, headers=tenant["headers"])
    msg = _sent(sim, database_url, r.json()["disparo_id"])
    assert msg["message"] == "Oi João: R$ 1.250,00" and msg["templateId"] is None


def test_email_template_html_reaches_mcp(client, sim, conn, tenant, database_url) -> None:
    h = tenant["headers"]
    r = client.post(
        "/templates",
        json={
            "nome": "boas_vindas",
            "canal": "email",
            "assunto": "Bem-vindo, {{nome}}",
            "corpo": "Olá {{contato_nome}}",
            "html": "<p>Olá <b>{{contato_nome}}</b></p>",
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["html"].startswith("<p>"), r.text
    assert sorted(r.json()["variaveis"]) == ["contato_nome", "nome"]
    lead = make_lead(
        conn, tenant["id"], nome="A & B Ltda", contato_nome="<Ana>", emails=[("ana@ab.com.br", True, True)]
    )
    r = client.post(
        f"/leads/{lead['lead_id']}/disparos", json={"canal": "email", "template": "boas_vindas"}, headers=h
    )
    assert r.status_code == 201, r.text
    msg = _sent(sim, database_url, r.json()["disparo_id"])
    assert msg["subject"] == "Bem-vindo, A & B Ltda" and msg["body"] == "Olá <Ana>"
    assert msg["html"] == "<p>Olá <b>&lt;Ana&gt;</b></p>"  # the lead's value cannot inject markup
    # html is e-mail only, and a campaign carries it too
    bad = {"nome": "w", "canal": "whatsapp", "corpo": "oi", "html": "<p>oi</p>"}
    assert client.post("/templates", json=bad, headers=h).status_code == 422
    c = client.post(
        "/campanhas",
        json={"canal": "email", "template": "boas_vindas", "filtro": {"com_email": True}},
        headers=h,
    ).json()
    row = conn.execute("SELECT payload FROM disparos WHERE campanha_id = %s", (c["campanha_id"],)).fetchone()
    assert row["payload"]["html"] == "<p>Olá <b>&lt;Ana&gt;</b></p>"


def test_seed_agendamento_and_lead_outcome(client, conn, tenant) -> None:
    h = tenant["headers"]
    lead = make_lead(conn, tenant["id"])
    r = client.post(f"/leads/{lead['lead_id']}/agendamentos", json=SEED_AGENDAMENTO, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "pendente", r.text
    for status in ("convertido", "descartado"):
        r = client.patch(f"/leads/{lead['lead_id']}", json={"status": status}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == status
    page = client.get("/leads", params={"status": "descartado"}, headers=h).json()
    assert [x["lead_id"] for x in page["items"]] == [lead["lead_id"]]


def test_provider_template_in_a_campaign(client, sim, conn, tenant, database_url) -> None:
    make_lead(conn, tenant["id"])
    r = client.post(
        "/campanhas",
        json={"canal": "whatsapp", "template": "cobranca_padrao_1", "variaveis": {"valor_aberto": "R$ 5"}},
        headers=tenant["headers"],
    )
    assert r.status_code == 201 and r.json()["criados"] == 1, r.text
    did = conn.execute(
        "SELECT disparo_id FROM disparos WHERE campanha_id = %s", (r.json()["campanha_id"],)
    ).fetchone()["disparo_id"]
    msg = _sent(sim, database_url, str(did))
    assert msg["templateId"] == "cobranca_padrao_1" and msg["variables"]["valor_aberto"] == "R$ 5"
