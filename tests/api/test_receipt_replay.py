"""Receipts cannot be replayed (issue #16.1): the signature covers a timestamp that must be recent, a
signature is accepted once, and a receipt never reaches past the disparo's current attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from disparos_support import make_lead

from pipelines.core.common.settings import Settings
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import redrive
from pipelines.core.send.receipts import forget_expired_receipts, sign, signed_headers
from pipelines.core.tenancy.tenants import get_webhook_secret


@pytest.fixture
def enviado(conn, tenant):
    lead = make_lead(conn, tenant["id"])
    return conn.execute(
        """INSERT INTO disparos (tenant_id, lead_id, canal, telefone_id, destino, template, payload, status,
                                 message_id, data_envio, tentativas)
           VALUES (%s, %s, 'whatsapp', %s, '+5511900000000', 't', '{}', 'enviado', 'msg-1',
                   now() - interval '2 minutes', 1)
           RETURNING disparo_id""",
        (tenant["id"], lead["lead_id"], lead["telefones"][0]),
    ).fetchone()["disparo_id"]


def _signed(conn, tenant_id, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    secret = get_webhook_secret(conn, tenant_id)
    return {"Content-Type": "application/json", **signed_headers(secret, body, timestamp)}


def _post(api_client, body: bytes, headers: dict[str, str]):
    return api_client.post("/webhooks/mcp/status", content=body, headers=headers)


def _state(conn, disparo_id):
    row = conn.execute("SELECT status FROM disparos WHERE disparo_id = %s", (disparo_id,)).fetchone()
    dlq = conn.execute(
        "SELECT count(*) AS n FROM disparos_dlq WHERE disparo_id = %s", (disparo_id,)
    ).fetchone()
    return row["status"], dlq["n"]


def _resend(conn, disparo_id, message_id="msg-1"):
    """What the engine leaves after re-sending a re-driven disparo (the MCP's idempotency answers the same
    message id for the same Idempotency-Key)."""
    conn.execute(
        """UPDATE disparos SET status = 'enviado', tentativas = 1, message_id = %s, data_envio = now()
           WHERE disparo_id = %s AND status = 'pendente'""",
        (message_id, disparo_id),
    )


def test_replayed_failed_receipt_after_redrive_is_not_applied(api_client, conn, tenant, enviado) -> None:
    body = json.dumps({"messageId": "msg-1", "status": "failed", "error": "x"}).encode()
    headers = _signed(conn, tenant["id"], body)
    assert _post(api_client, body, headers).json()["aplicado"] is True
    assert _state(conn, enviado) == ("erro", 1)
    assert redrive(conn, tenant_id=tenant["id"]).redriven == 1
    _resend(conn, enviado)

    for _ in range(2):  # the same bytes and headers, inside the window: remembered, a no-op
        r = _post(api_client, body, headers)
        assert r.status_code == 200 and r.json() == {**r.json(), "status": "enviado", "aplicado": False}
    assert _state(conn, enviado) == ("enviado", 1)


def test_signed_timestamp_outside_the_window_is_refused(api_client, conn, tenant, enviado) -> None:
    body = json.dumps({"messageId": "msg-1", "status": "failed"}).encode()
    for skew in (-6 * 60, 6 * 60):  # captured 6 minutes ago / signed 6 minutes ahead
        r = _post(api_client, body, _signed(conn, tenant["id"], body, int(time.time()) + skew))
        assert r.status_code == 401 and "X-MCP-Timestamp" in r.json()["detail"]
    # The old scheme (HMAC over the body alone, no timestamp) is refused: it could be replayed forever.
    legacy = (
        "sha256="
        + hmac.new(get_webhook_secret(conn, tenant["id"]).encode(), body, hashlib.sha256).hexdigest()
    )
    r = _post(api_client, body, {"X-MCP-Signature": legacy})
    assert r.status_code == 401
    # A valid signature moved to another timestamp does not verify.
    headers = _signed(conn, tenant["id"], body)
    headers["X-MCP-Timestamp"] = str(int(headers["X-MCP-Timestamp"]) - 1)
    assert _post(api_client, body, headers).status_code == 401
    assert _state(conn, enviado) == ("enviado", 0)


@pytest.mark.parametrize("year", [2001, 2099])
def test_receipt_dated_before_the_send_or_in_the_future_is_not_stored(
    api_client, conn, tenant, enviado, year
) -> None:
    when = datetime(year, 6, 1, 12, 0, tzinfo=UTC)
    body = json.dumps({"messageId": "msg-1", "status": "delivered", "timestamp": when.isoformat()}).encode()
    r = _post(api_client, body, _signed(conn, tenant["id"], body))
    if year == 2099:
        assert r.status_code == 422 and r.json()["field"] == "timestamp"
    else:  # before this attempt's data_envio: a receipt of an earlier attempt, ignored
        assert r.status_code == 200 and r.json()["aplicado"] is False
    assert _state(conn, enviado) == ("enviado", 0)
    assert conn.execute("SELECT data_retorno FROM disparos").fetchone()["data_retorno"] is None


def test_receipt_of_the_previous_attempt_does_not_touch_a_resend(api_client, conn, tenant, enviado) -> None:
    first_sent = datetime.now(UTC) - timedelta(minutes=2)
    first = json.dumps({"messageId": "msg-1", "status": "failed"}).encode()
    assert _post(api_client, first, _signed(conn, tenant["id"], first)).json()["status"] == "erro"
    redrive(conn, tenant_id=tenant["id"])
    conn.execute("UPDATE disparos SET status = 'enviando', tentativas = 1 WHERE disparo_id = %s", (enviado,))
    # Freshly signed, but about the first attempt (the MCP retrying its webhook call late).
    late = json.dumps(
        {"messageId": "msg-1", "status": "failed", "error": "tarde", "timestamp": first_sent.isoformat()}
    ).encode()
    r = _post(api_client, late, _signed(conn, tenant["id"], late))
    assert r.status_code == 404  # a re-send is in flight: not this receipt's attempt
    assert _state(conn, enviado) == ("enviando", 1)
    conn.execute("UPDATE disparos SET status = 'pendente' WHERE disparo_id = %s", (enviado,))
    _resend(conn, enviado)
    r = _post(api_client, late, _signed(conn, tenant["id"], late, int(time.time()) - 1))
    assert r.status_code == 200 and r.json()["aplicado"] is False  # dated before the re-send
    assert _state(conn, enviado) == ("enviado", 1)
    # A receipt of the re-send itself still applies.
    now = json.dumps({"messageId": "msg-1", "status": "delivered"}).encode()
    assert _post(api_client, now, _signed(conn, tenant["id"], now)).json()["status"] == "confirmado"


def test_remembered_signatures_are_forgotten_after_the_window(api_client, conn, tenant, enviado) -> None:
    body = json.dumps({"messageId": "msg-1", "status": "delivered"}).encode()
    assert _post(api_client, body, _signed(conn, tenant["id"], body)).status_code == 200
    conn.execute(
        """INSERT INTO webhook_recibos_vistos (tenant_id, assinatura, message_id, expira_em)
           SELECT %s, 'old-' || i, 'm', now() - interval '1 second' FROM generate_series(1, 5) AS i""",
        (tenant["id"],),
    )
    assert forget_expired_receipts(conn, limit=3) == 3
    assert forget_expired_receipts(conn) == 2
    assert conn.execute("SELECT count(*) AS n FROM webhook_recibos_vistos").fetchone()["n"] == 1


class _Capture(BaseHTTPRequestHandler):
    """A webhook that keeps what the simulator sent, so the test can replay it byte for byte."""

    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Capture.received.append((body, {k: v for k, v in self.headers.items() if k.startswith("X-MCP")}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_simulator_receipt_replayed_after_redrive_and_resend(
    api_client, conn, database_url, tenant, sim, monkeypatch
) -> None:
    """The real flow: the engine sends through the simulator, the simulator signs a `failed` receipt, it
    is applied, the DLQ re-drives, the engine re-sends; the captured receipt replayed changes nothing."""
    from bench.send_data import seed_due

    httpx.post(sim.url + "/sim/reset").raise_for_status()
    settings = Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url, mcp_token="tok")
    )
    (disparo_id,) = seed_due(conn, tenant["id"], 1)
    assert sender.send_due(database_url, settings=settings).enviados == 1
    message_id = conn.execute(
        "SELECT message_id FROM disparos WHERE disparo_id = %s", (disparo_id,)
    ).fetchone()["message_id"]

    server = HTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Capture.received.clear()
        r = httpx.post(sim.url + "/sim/receipts", json={
            "webhook_url": f"http://127.0.0.1:{server.server_address[1]}/", "status": "failed",
            "secret": get_webhook_secret(conn, tenant["id"]), "messageIds": [message_id]})  # fmt: skip
        assert r.json() == [204]
    finally:
        server.shutdown()
    ((body, headers),) = _Capture.received
    assert _post(api_client, body, headers).json() == {
        "messageId": message_id,
        "disparo_id": str(disparo_id),
        "status": "erro",
        "aplicado": True,
    }
    assert redrive(conn, tenant_id=tenant["id"]).redriven == 1
    assert sender.send_due(database_url, settings=settings).enviados == 1

    new_id = conn.execute("SELECT message_id FROM disparos WHERE disparo_id = %s", (disparo_id,)).fetchone()[
        "message_id"
    ]
    assert new_id != message_id  # the redrive was sent under a key of its own: a new message

    r = _post(api_client, body, headers)  # the old receipt names a message the disparo no longer has
    assert r.status_code == 404
    assert _state(conn, disparo_id) == ("enviado", 1)


def test_core_sign_matches_the_simulator() -> None:
    from pipelines.mcp_sim.app import sign as sim_sign

    assert sign("s", b"{}", 1_700_000_000) == sim_sign("s", b"{}", 1_700_000_000)
