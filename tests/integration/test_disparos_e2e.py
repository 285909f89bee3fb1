"""End to end over real HTTP: api_lite (uvicorn on a free port) -> immediate path -> send engine -> MCP
simulator; signed receipts from the simulator back to the webhook; opt-out at send time."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from disparos_support import make_lead, make_template, wait_for

from pipelines.core.send.engine import send_due
from pipelines.core.tenancy.tenants import get_webhook_secret


@pytest.fixture
def sim(wired_sim):
    return wired_sim


@pytest.fixture
def api_url(database_url: str, sim) -> Iterator[str]:
    """api_lite served by uvicorn in a thread: background tasks run after the response, as in production."""
    import uvicorn

    from api_lite.main import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(database_url, max_size=4), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def _status(client: httpx.Client, tenant, disparo_id: str) -> dict:
    return client.get(f"/disparos/{disparo_id}", headers=tenant["headers"]).json()


def test_immediate_disparo_reaches_mcp_and_receipts_confirm_it(api_url, sim, conn, tenant) -> None:
    make_template(conn, tenant["id"], corpo="Olá {{contato_nome}}, {{valor}}", whatsapp_template_id="cob_v1")
    lead = make_lead(
        conn, tenant["id"], contato_nome="Ana", phones=[("+5511912340000", "celular", True, True)]
    )
    with httpx.Client(base_url=api_url, timeout=10) as client:
        t0 = time.monotonic()
        r = client.post(f"/leads/{lead['lead_id']}/disparos", headers=tenant["headers"],
                        json={"canal": "whatsapp", "template": "cobranca", "payload": {"variaveis": {"valor": "R$ 9"}}})  # fmt: skip
        assert r.status_code == 201, r.text
        did = r.json()["disparo_id"]
        sent = wait_for(lambda: (d := _status(client, tenant, did))["status"] == "enviado" and d, timeout=5)
        elapsed = time.monotonic() - t0
        assert elapsed < 5 and sent["message_id"] and sent["data_envio"]
        print(f"immediate path: enviado {elapsed * 1000:.0f} ms after the POST")
        msgs = httpx.get(f"{sim.url}/sim/messages", params={"idempotency_key": did}).json()["items"]
        assert len(msgs) == 1
        m = msgs[0]
        assert m["to"] == "+5511912340000" and m["message"] == "Olá Ana, R$ 9" and m["templateId"] == "cob_v1"
        assert m["messageId"] == sent["message_id"]

        # The simulator signs receipts with the tenant's secret and POSTs them to our webhook.
        secret = get_webhook_secret(conn, tenant["id"])
        hook = f"{api_url}/webhooks/mcp/status"
        r = httpx.post(f"{sim.url}/sim/receipts", json={"webhook_url": hook, "secret": secret,
                                                         "messageIds": [sent["message_id"]], "status": "read"})  # fmt: skip
        assert r.json() == [200]
        assert _status(client, tenant, did)["status"] == "confirmado"
        r = httpx.post(f"{sim.url}/sim/receipts", json={"webhook_url": hook, "secret": secret,
                                                         "messageIds": [sent["message_id"]], "status": "delivered"})  # fmt: skip
        assert r.json() == [200] and _status(client, tenant, did)["status"] == "confirmado"
        r = httpx.post(f"{sim.url}/sim/receipts", json={"webhook_url": hook, "secret": "errado",
                                                         "messageIds": [sent["message_id"]], "status": "failed"})  # fmt: skip
        assert r.json() == [401] and _status(client, tenant, did)["status"] == "confirmado"

        # A burst of immediate requests: all leave through the app's batched immediate sender.
        burst = []
        for i in range(10):
            other = make_lead(conn, tenant["id"], phones=[(f"+55119777{i:05d}", "celular", True, True)])
            r = client.post(f"/leads/{other['lead_id']}/disparos", headers=tenant["headers"],
                            json={"canal": "whatsapp", "template": "cobranca", "payload": {"variaveis": {"valor": "1"}}})  # fmt: skip
            burst.append(r.json()["disparo_id"])
        wait_for(lambda: all(_status(client, tenant, d)["status"] == "enviado" for d in burst), timeout=10)
        assert httpx.get(f"{sim.url}/sim/messages").json()["total"] == 11


def test_optout_after_scheduling_ends_bloqueado(database_url, sim, conn, tenant, api_client) -> None:
    make_template(conn, tenant["id"], corpo="Oi {{nome}}")
    keep = make_lead(conn, tenant["id"], nome="Fica", phones=[("+5511911112222", "celular", True, True)])
    leave = make_lead(conn, tenant["id"], nome="Sai", phones=[("+5511933334444", "celular", True, True)])
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    ids = {}
    for name, lead in (("keep", keep), ("leave", leave)):
        r = api_client.post(f"/leads/{lead['lead_id']}/disparos", headers=tenant["headers"],
                            json={"canal": "whatsapp", "template": "cobranca", "agendar_para": later})  # fmt: skip
        assert r.status_code == 201 and r.json()["status"] == "pendente"
        ids[name] = r.json()["disparo_id"]
    r = api_client.post(
        "/optouts", headers=tenant["headers"], json={"canal": "whatsapp", "destino": "11 93333-4444"}
    )
    assert r.status_code == 201
    conn.execute("UPDATE disparos SET data_agendado = now() - interval '1 second'")  # the hour has come
    send_due(database_url, tenant_id=tenant["id"], time_budget_s=10)
    st = {
        k: api_client.get(f"/disparos/{v}", headers=tenant["headers"]).json()["status"]
        for k, v in ids.items()
    }
    assert st == {"keep": "enviado", "leave": "bloqueado"}
    tos = [m["to"] for m in httpx.get(f"{sim.url}/sim/messages").json()["items"]]
    assert tos == ["+5511911112222"]


def test_campaign_drained_by_the_engine(database_url, sim, conn, tenant, api_client) -> None:
    make_template(
        conn, tenant["id"], nome="aviso", canal="email", corpo="Oi {{nome}}", assunto="Aviso {{contato_nome}}"
    )
    for i in range(3):
        make_lead(conn, tenant["id"], nome=f"L{i}", emails=[(f"l{i}@x.com", True, True)])
    c = api_client.post(
        "/campanhas", headers=tenant["headers"], json={"canal": "email", "template": "aviso"}
    ).json()
    assert c["criados"] == 3
    api_client.post("/optouts", headers=tenant["headers"], json={"canal": "email", "destino": "L2@X.com"})
    send_due(database_url, tenant_id=tenant["id"], time_budget_s=10)
    got = api_client.get(f"/campanhas/{c['campanha_id']}", headers=tenant["headers"]).json()["contagens"]
    assert got["enviado"] == 2 and got["bloqueado"] == 1
    subjects = sorted(m["subject"] for m in httpx.get(f"{sim.url}/sim/messages").json()["items"])
    assert subjects == ["Aviso joao.silva", "Aviso joao.silva"]


def test_cli_disparo_create_sends_at_once(sim, conn, tenant, cli) -> None:
    make_template(conn, tenant["id"], corpo="Oi {{nome}} {{valor}}")
    lead = make_lead(conn, tenant["id"], nome="Zé", phones=[("+5511955556666", "celular", True, True)])
    code, out, err = cli("disparo", "create", lead["lead_id"], "--tenant", "acme", "--canal", "whatsapp",
                         "--template", "cobranca", "--var", "valor=R$ 3", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "enviado"
    assert [m["message"] for m in httpx.get(f"{sim.url}/sim/messages").json()["items"]] == ["Oi Zé R$ 3"]
    code, out, _ = cli("disparo", "list", lead["lead_id"], "--tenant", "acme")
    assert code == 0 and "enviado" in out and "1 de 1" in out
