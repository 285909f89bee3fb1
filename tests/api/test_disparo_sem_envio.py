"""Without an MCP endpoint nothing is sent: POST /leads/{lead_id}/disparos still creates the disparo
(pendente) and says so in the `Aviso-Envio` header; `serve`/`dev` say it in their start-up banner."""

from __future__ import annotations

from disparos_support import make_lead, make_template

from pipelines.commands.serve import sending_banner
from pipelines.core.common.settings import Settings


def _post(api_client, tenant, lead) -> object:
    body = {"canal": "whatsapp", "template": "cobranca", "payload": {"variaveis": {"valor": "R$ 10"}}}
    return api_client.post(f"/leads/{lead['lead_id']}/disparos", json=body, headers=tenant["headers"])


def test_a_disparo_without_endpoint_is_created_and_flagged(api_client, conn, tenant, monkeypatch) -> None:
    monkeypatch.delenv("MCP_WHATSAPP_ENDPOINT", raising=False)
    make_template(conn, tenant["id"])
    r = _post(api_client, tenant, make_lead(conn, tenant["id"]))
    assert r.status_code == 201 and r.json()["status"] == "pendente"
    assert (
        "MCP_WHATSAPP_ENDPOINT" in r.headers["Aviso-Envio"]
        and "nada sera enviado" in r.headers["Aviso-Envio"]
    )


def test_a_disparo_with_an_endpoint_carries_no_warning(api_client, conn, tenant, monkeypatch, sim) -> None:
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", sim.url)
    make_template(conn, tenant["id"])
    r = _post(api_client, tenant, make_lead(conn, tenant["id"]))
    assert r.status_code == 201 and "Aviso-Envio" not in r.headers


def test_the_banner_names_each_channel_that_will_not_send() -> None:
    none = sending_banner(Settings.from_mapping({}))
    assert sum("ATENÇÃO" in line for line in none) == 2 and any("--mcp-sim" in line for line in none)
    email_only = sending_banner(Settings.from_mapping({"MCP_EMAIL_ENDPOINT": "http://mcp.example"}))
    assert [line for line in email_only if "ATENÇÃO" in line] == [
        line for line in email_only if "MCP_WHATSAPP_ENDPOINT" in line
    ]
    both = {"MCP_EMAIL_ENDPOINT": "http://a", "MCP_WHATSAPP_ENDPOINT": "http://b"}
    assert not any("ATENÇÃO" in line for line in sending_banner(Settings.from_mapping(both)))
