"""The MCP client against the simulator (a test double) over real HTTP: outcome classes, idempotency,
the record, run-time config and signed delivery receipts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from pipelines.core.common.settings import Settings
from pipelines.core.send.mcp import McpClient
from pipelines.mcp_sim import SimConfig, run_in_thread


@pytest.fixture(scope="module")
def sim():
    handle = run_in_thread(SimConfig(token="segredo-sim", retry_after_s=3))
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _reset(sim) -> None:
    httpx.post(sim.url + "/sim/reset").raise_for_status()


def _settings(url: str, token: str | None = "segredo-sim") -> Settings:
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=url, mcp_email_endpoint=url, mcp_token=token)
    )


def _run(coro):
    return asyncio.run(coro)


def _configure(sim, **changes) -> None:
    httpx.post(sim.url + "/sim/config", json=changes).raise_for_status()


async def _one(url: str, key: str, *, timeout: float = 5.0, token: str | None = "segredo-sim"):
    async with McpClient(_settings(url, token), concurrency=2, timeout=timeout) as mcp:
        return await mcp.send_whatsapp("+5584997084444", "Olá", idempotency_key=key, template_id="t1")


def test_sent_and_idempotent_replay(sim) -> None:
    first = _run(_one(sim.url, "k-1"))
    again = _run(_one(sim.url, "k-1"))
    assert first.outcome == "sent" and first.message_id
    assert again.message_id == first.message_id
    stats = httpx.get(sim.url + "/sim/stats").json()
    assert stats["accepted"] == 1 and stats["duplicates"] == 1 and stats["requests"] == 2
    items = httpx.get(sim.url + "/sim/messages", params={"to": "+5584997084444"}).json()["items"]
    assert [(m["idempotency_key"], m["message"], m["templateId"], m["hits"]) for m in items] == [
        ("k-1", "Olá", "t1", 2)
    ]
    assert httpx.get(sim.url + "/sim/messages", params={"canal": "email"}).json()["total"] == 0


def test_email_request_shape(sim) -> None:
    async def go():
        async with McpClient(_settings(sim.url)) as mcp:
            return await mcp.send_email("a@b.com", "Assunto", "Corpo", idempotency_key="e-1", html="<b>x</b>")

    assert _run(go()).outcome == "sent"
    (m,) = httpx.get(sim.url + "/sim/messages", params={"canal": "email"}).json()["items"]
    assert (m["to"], m["subject"], m["body"], m["html"]) == ("a@b.com", "Assunto", "Corpo", "<b>x</b>")


@pytest.mark.parametrize(
    ("changes", "outcome", "status"),
    [
        ({"rate_5xx": 1.0}, "retry", 503),
        ({"rate_429": 1.0}, "retry", 429),
        ({"rate_4xx": 1.0}, "failed", 400),
        ({"rate_failed": 1.0}, "failed", 200),
    ],
)
def test_outcome_classes(sim, changes, outcome, status) -> None:
    _configure(sim, **changes)
    res = _run(_one(sim.url, f"k-{status}-{outcome}"))
    assert (res.outcome, res.http_status) == (outcome, status)
    assert res.error
    if status == 429:
        assert res.retry_after == 3.0


def test_retryable_answers_are_not_replayed(sim) -> None:
    _configure(sim, rate_5xx=1.0)
    assert _run(_one(sim.url, "k-r")).outcome == "retry"
    _configure(sim, rate_5xx=0.0)
    assert _run(_one(sim.url, "k-r")).outcome == "sent"  # same key succeeds once the server recovers


def test_timeout_and_connection_error_are_retryable(sim) -> None:
    _configure(sim, rate_timeout=1.0, timeout_s=1.0)
    res = _run(_one(sim.url, "k-t", timeout=0.2))
    assert res.outcome == "retry" and "timeout" in res.error
    res = _run(_one("http://127.0.0.1:9", "k-c"))  # nothing listens on the discard port
    assert res.outcome == "retry" and "conexão" in res.error


def test_token_is_required_when_configured_and_never_in_errors(sim) -> None:
    res = _run(_one(sim.url, "k-a", token="errado"))
    assert (res.outcome, res.http_status) == ("failed", 401)
    assert "errado" not in (res.error or "") and "segredo" not in repr(res)


def test_invalid_body_is_a_permanent_4xx(sim) -> None:
    r = httpx.post(
        sim.url + "/mcp/whatsapp/send", json={"to": "+55"}, headers={"Authorization": "Bearer segredo-sim"}
    )
    assert r.status_code == 400 and "message" in r.json()["error"]


def test_config_is_validated(sim) -> None:
    assert httpx.post(sim.url + "/sim/config", json={"rate_5xx": 2}).status_code == 422
    assert httpx.post(sim.url + "/sim/config", json={"nope": 1}).status_code == 422
    assert httpx.post(sim.url + "/sim/config", json={"latency_ms": 5}).json()["token"] == "***"


class _Webhook(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Webhook.received.append((body, self.headers["X-MCP-Signature"], self.headers["X-MCP-Timestamp"]))
        self.send_response(204 if len(_Webhook.received) % 2 else 401)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_receipts_are_signed_and_posted_per_message(sim) -> None:
    ids = [_run(_one(sim.url, f"r-{i}")).message_id for i in range(3)]
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Webhook.received.clear()
        url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/mcp"
        r = httpx.post(
            sim.url + "/sim/receipts",
            json={"webhook_url": url, "secret": "s3", "messageIds": ids[:2], "status": "delivered"},
        )
        assert r.json() == [204, 401]
        r = httpx.post(
            sim.url + "/sim/receipts",
            json={"webhook_url": url, "secret": "s3", "messageIds": None, "status": "failed", "error": "x"},
        )
        assert len(r.json()) == 3  # every accepted message
        bad = httpx.post(
            sim.url + "/sim/receipts", json={"webhook_url": url, "secret": "s3", "messageIds": ["zz"]}
        )
        assert bad.status_code == 404
    finally:
        server.shutdown()
    assert len(_Webhook.received) == 5
    for body, signature, timestamp in _Webhook.received:
        assert abs(int(timestamp) - time.time()) < 60
        signed = timestamp.encode() + b"." + body
        assert signature == "sha256=" + hmac.new(b"s3", signed, hashlib.sha256).hexdigest()
    bodies = [json.loads(b) for b, _, _ in _Webhook.received]
    assert [b["messageId"] for b in bodies] == ids[:2] + ids
    assert bodies[0]["status"] == "delivered" and bodies[0]["timestamp"].endswith("Z")
    assert "error" not in bodies[0]
    assert bodies[4] == {**bodies[4], "status": "failed", "error": "x"}
    statuses = {m["messageId"]: m["status"] for m in httpx.get(sim.url + "/sim/messages").json()["items"]}
    assert statuses == dict.fromkeys(ids, "failed")


def test_extra_routers_are_included() -> None:
    from pipelines.mcp_sim import create_app

    paths = set(create_app(SimConfig()).openapi()["paths"])
    assert {"/mcp/whatsapp/send", "/mcp/email/send", "/sim/receipts"} <= paths


# ---- the transport against a bare HTTP/1.1 server: what the simulator (uvicorn) does not do on demand


async def _raw_server(script):
    """An asyncio HTTP/1.1 server; ``script(n, head, body)`` returns (answer bytes, close after it)."""
    seen: list[tuple[int, bytes, bytes]] = []
    connections = 0

    async def handler(reader, writer):
        nonlocal connections
        connections += 1
        n = connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                seen.append((n, head, body))
                answer, close = script(len(seen), head, body)
                writer.write(answer)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    return server, url, seen, lambda: connections


def _answer(status: str, body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 " + status.encode() + b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


def test_keep_alive_headers_and_a_dropped_request_retried_once_on_a_fresh_connection() -> None:
    ok = b'{"status": "sent", "messageId": "m-%d"}'

    def script(i, head, body):
        if i == 3:  # the server drops the kept-alive connection instead of answering
            return b"", True
        if i == 4:  # chunked answer
            chunk = ok % i
            return (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(chunk)
                + chunk
                + b"\r\n0\r\n\r\n",
                False,
            )
        return _answer("200 OK", ok % i, b"Content-Type: application/json\r\n"), False

    async def go():
        server, url, seen, connections = await _raw_server(script)
        async with McpClient(_settings(url), concurrency=1) as mcp:
            results = [
                await mcp.send_whatsapp("+5584997084444", "Olá", idempotency_key=f"ka-{i}") for i in range(4)
            ]
        server.close()
        await server.wait_closed()
        return results, seen, connections()

    results, seen, connections = _run(go())
    assert [r.message_id for r in results] == ["m-1", "m-2", "m-4", "m-5"]
    assert connections == 2  # requests 1-3 on one kept-alive connection, the retry and the rest on a new one
    assert [(n, _header(h, b"idempotency-key")) for n, h, _ in seen] == [
        (1, b"ka-0"),
        (1, b"ka-1"),
        (1, b"ka-2"),
        (2, b"ka-2"),  # the same key again
        (2, b"ka-3"),
    ]
    _, head, body = seen[0]
    assert head.startswith(b"POST /mcp/whatsapp/send HTTP/1.1\r\n")
    assert _header(head, b"authorization") == b"Bearer segredo-sim"
    assert _header(head, b"content-type") == b"application/json"
    assert json.loads(body) == {"to": "+5584997084444", "message": "Olá"}


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def test_retry_after_date_and_unframed_or_non_json_answers() -> None:
    answers = {
        1: (
            _answer("503 Service Unavailable", b"", b"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"),
            False,
        ),
        2: (_answer("200 OK", b"<html>proxy</html>"), False),
        3: (b"HTTP/1.1 200 OK\r\n\r\n" + b'{"status": "sent", "messageId": "eof"}', True),  # read to close
    }

    async def go():
        server, url, _, _ = await _raw_server(lambda i, head, body: answers[i])
        async with McpClient(_settings(url), concurrency=1) as mcp:
            out = [
                await mcp.send_whatsapp("+5584997084444", "x", idempotency_key=f"ra-{i}") for i in range(3)
            ]
        server.close()
        await server.wait_closed()
        return out

    past, html, eof = _run(go())
    assert (past.outcome, past.http_status, past.retry_after) == ("retry", 503, 0.0)
    assert html.outcome == "retry" and "não JSON" in html.error
    assert (eof.outcome, eof.message_id) == ("sent", "eof")
