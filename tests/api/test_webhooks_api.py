"""POST /webhooks/mcp/status: HMAC per tenant, forward-only transitions, repeats and out-of-order receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from disparos_support import make_lead

from pipelines.core.send.receipts import signed_headers
from pipelines.core.tenancy.tenants import get_webhook_secret

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def sent(conn, tenant, other_tenant):
    """Two disparos already `enviado` (as the engine leaves them), one per tenant."""
    rows = {}
    for key, t in (("mine", tenant), ("theirs", other_tenant)):
        lead = make_lead(conn, t["id"])
        rows[key] = conn.execute(
            """INSERT INTO disparos (tenant_id, lead_id, canal, telefone_id, destino, template, payload, status,
                                     message_id, data_envio)
               VALUES (%s, %s, 'whatsapp', %s, '+5511900000000', 't', '{}', 'enviado', %s, %s)
               RETURNING disparo_id""",
            (t["id"], lead["lead_id"], lead["telefones"][0], f"msg-{key}", T0 - timedelta(hours=1)),
        ).fetchone()["disparo_id"]
    return rows


def _receipt(api_client, conn, tenant_id, message_id, status, when=T0, secret=None, **extra):
    body = json.dumps(
        {"messageId": message_id, "status": status, "timestamp": when.isoformat(), **extra}
    ).encode()
    secret = secret or get_webhook_secret(conn, tenant_id)
    return api_client.post("/webhooks/mcp/status", content=body,
                           headers={"Content-Type": "application/json", **signed_headers(secret, body)})  # fmt: skip


def _row(conn, disparo_id):
    return conn.execute(
        "SELECT status, data_retorno, mensagem_erro FROM disparos WHERE disparo_id = %s", (disparo_id,)
    ).fetchone()


def test_signature_required_and_checked_per_tenant(api_client, conn, tenant, other_tenant, sent) -> None:
    body = json.dumps({"messageId": "msg-mine", "status": "delivered"}).encode()
    r = api_client.post("/webhooks/mcp/status", content=body)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = api_client.post("/webhooks/mcp/status", content=body, headers={"X-MCP-Signature": "sha256=00"})
    assert r.status_code == 401
    # Signed with the other tenant's secret: the disparo belongs to `tenant`, so it is refused.
    r = _receipt(
        api_client,
        conn,
        tenant["id"],
        "msg-mine",
        "delivered",
        secret=get_webhook_secret(conn, other_tenant["id"]),
    )
    assert r.status_code == 401
    # A signature over a different body does not verify either.
    other_body = json.dumps({"messageId": "msg-mine", "status": "read"}).encode()
    headers = signed_headers(get_webhook_secret(conn, tenant["id"]), other_body)
    assert api_client.post("/webhooks/mcp/status", content=body, headers=headers).status_code == 401
    assert _row(conn, sent["mine"])["status"] == "enviado"


def test_unknown_message_and_malformed_body(api_client, conn, tenant, sent) -> None:
    r = _receipt(api_client, conn, tenant["id"], "msg-nao-existe", "delivered")
    assert r.status_code == 404 and r.json()["field"] == "messageId"
    bad = b"{nope"
    signed = signed_headers(get_webhook_secret(conn, tenant["id"]), bad)
    assert api_client.post("/webhooks/mcp/status", content=bad, headers=signed).status_code == 422
    # unsigned: refused before the body is read, so never a 422
    assert api_client.post("/webhooks/mcp/status", content=bad).status_code == 401
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "bounced")
    assert r.status_code == 422 and r.json()["field"] == "status"


def test_delivered_then_read_then_failed_never_moves_back(api_client, conn, tenant, sent) -> None:
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "delivered", T0)
    assert r.status_code == 200 and r.json()["status"] == "confirmado" and r.json()["aplicado"] is True
    row = _row(conn, sent["mine"])
    assert row["status"] == "confirmado" and row["data_retorno"] == T0
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "read", T0 + timedelta(minutes=5))
    assert r.status_code == 200 and r.json()["aplicado"] is False
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "failed", T0 + timedelta(minutes=6), error="x")
    assert r.status_code == 200 and r.json()["status"] == "confirmado"
    assert _row(conn, sent["mine"]) == {"status": "confirmado", "data_retorno": T0, "mensagem_erro": None}


def test_read_before_delivered_and_repeats(api_client, conn, tenant, sent) -> None:
    assert (
        _receipt(api_client, conn, tenant["id"], "msg-mine", "read", T0 + timedelta(minutes=3)).status_code
        == 200
    )
    assert _row(conn, sent["mine"])["data_retorno"] == T0 + timedelta(minutes=3)
    # The delivery receipt arrives late: still confirmado, data_retorno moves back to the delivery time.
    for _ in range(2):
        r = _receipt(api_client, conn, tenant["id"], "msg-mine", "delivered", T0)
        assert r.status_code == 200 and r.json()["status"] == "confirmado"
    assert _row(conn, sent["mine"]) == {"status": "confirmado", "data_retorno": T0, "mensagem_erro": None}


def test_failed_goes_to_erro_with_message_and_dlq(api_client, conn, tenant, sent) -> None:
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "failed", T0, error="número inexistente")
    assert r.status_code == 200 and r.json()["status"] == "erro"
    row = _row(conn, sent["mine"])
    assert (
        row["status"] == "erro" and row["mensagem_erro"] == "número inexistente" and row["data_retorno"] == T0
    )
    assert (
        conn.execute(
            "SELECT count(*) AS n FROM disparos_dlq WHERE disparo_id = %s", (sent["mine"],)
        ).fetchone()["n"]
        == 1
    )
    # Repeated failure: no second DLQ row; a late delivered does not resurrect it either.
    _receipt(api_client, conn, tenant["id"], "msg-mine", "failed", T0)
    _receipt(api_client, conn, tenant["id"], "msg-mine", "delivered", T0)
    assert _row(conn, sent["mine"])["status"] == "erro"
    assert conn.execute("SELECT count(*) AS n FROM disparos_dlq").fetchone()["n"] == 1
    assert _row(conn, sent["theirs"])["status"] == "enviado"


def test_pendente_or_cancelado_is_not_touched(api_client, conn, tenant, sent) -> None:
    conn.execute("UPDATE disparos SET status = 'cancelado' WHERE disparo_id = %s", (sent["mine"],))
    r = _receipt(api_client, conn, tenant["id"], "msg-mine", "delivered")
    assert r.status_code == 200 and r.json() == {**r.json(), "status": "cancelado", "aplicado": False}


def test_applied_receipts_emit_outbox_events(api_client, conn, tenant, sent) -> None:
    _receipt(api_client, conn, tenant["id"], "msg-mine", "delivered")
    _receipt(api_client, conn, tenant["id"], "msg-mine", "read")  # not applied: no event
    rows = conn.execute("SELECT tipo, entidade_id, payload FROM eventos_outbox").fetchall()
    assert [(r["tipo"], r["entidade_id"], r["payload"]["status"]) for r in rows] == [
        ("disparo-agenda.disparo.retorno", sent["mine"], "confirmado")
    ]
