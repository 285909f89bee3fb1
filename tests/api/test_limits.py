"""Request bodies: limited on every route while they stream, and authenticated before they are read
(api_lite.limits). The early-refusal tests talk raw HTTP to a real uvicorn server and count how much
of a 1 GiB chunked body the client managed to send before the answer came."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest
import uvicorn

LARGE = 1024 * 1024 * 1024  # 1 GiB offered by the client; only the start of it may ever be sent


@pytest.fixture
def server(database_url, monkeypatch):
    """api_lite on a free port in a thread (lifespan runs): yields the port."""
    from api_lite.main import create_app

    monkeypatch.setenv("DISPARO_AGENDA_MAX_BODY_KB", "64")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(database_url, max_size=2), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(300):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "o servidor não subiu"
    yield port
    srv.should_exit = True
    thread.join(10)


def chunked_post(port: int, path: str, headers: dict[str, str], total: int = LARGE) -> tuple[int, dict, int]:
    """POST `total` bytes chunked (64 KiB chunks) until the server answers: (status, body, bytes sent)."""
    chunk = b"x" * 65536
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
    )
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head.encode())
    sock.setblocking(False)
    sent, pending, answer = 0, b"", b""
    deadline = time.monotonic() + 60  # a safety net only: the answer comes after a few KiB
    try:
        while time.monotonic() < deadline:
            want_write = sent < total
            readable, writable, _ = select.select([sock], [sock] if want_write else [], [], 1.0)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer:
                    head_part, _, rest = answer.partition(b"\r\n\r\n")
                    length = next(
                        (int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                         if line.lower().startswith(b"content-length")), 0,
                    )  # fmt: skip
                    if len(rest) >= length:
                        break
            if writable:
                if not pending:
                    pending = frame
                try:
                    n = sock.send(pending)
                except (BlockingIOError, InterruptedError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    want_write = False
                    sent = total
                    continue
                pending = pending[n:]
                sent += n
    finally:
        sock.close()
    head_part, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ")[1]) if head_part else 0
    body = json.loads(rest) if rest.strip() else {}
    return status, body, sent


def test_unauthenticated_chunked_post_is_refused_before_the_body(server) -> None:
    status, body, sent = chunked_post(server, "/templates", {})
    assert status == 401 and "Authorization" in body["detail"]
    assert sent < 16 * 1024 * 1024, f"o cliente conseguiu mandar {sent} bytes antes da resposta"
    status, _, sent = chunked_post(server, "/templates", {"Authorization": "Bearer dak_x_naoexiste"})
    assert status == 401 and sent < 16 * 1024 * 1024


def test_unsigned_webhook_is_refused_before_the_body(server) -> None:
    status, body, sent = chunked_post(server, "/webhooks/mcp/status", {})
    assert status == 401 and "X-MCP-Timestamp" in body["detail"]
    assert sent < 16 * 1024 * 1024
    stale = {"X-MCP-Timestamp": str(int(time.time()) - 3600), "X-MCP-Signature": "sha256=00"}
    status, _, sent = chunked_post(server, "/webhooks/mcp/status", stale)
    assert status == 401 and sent < 16 * 1024 * 1024


def test_signed_looking_webhook_is_cut_at_the_body_limit(server) -> None:
    fresh = {"X-MCP-Timestamp": str(int(time.time())), "X-MCP-Signature": "sha256=00"}
    status, body, sent = chunked_post(server, "/webhooks/mcp/status", fresh)
    assert status == 413 and "64 KB" in body["detail"]
    assert sent < 16 * 1024 * 1024


def test_authenticated_chunked_json_is_cut_at_the_body_limit(server, tenant) -> None:
    status, body, sent = chunked_post(server, "/templates", tenant["headers"])
    assert status == 413 and body["status"] == 413 and "64 KB" in body["detail"]
    assert sent < 16 * 1024 * 1024


def test_declared_length_over_the_limit_is_413_and_nothing_is_written(
    api_client, tenant, conn, monkeypatch
) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_BODY_KB", "1")
    big = {"nome": "t", "canal": "whatsapp", "corpo": "x" * 4096}
    r = api_client.post("/templates", json=big, headers=tenant["headers"])
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "corpo da requisição maior que o limite de 1 KB"
    # the same body within the limit is accepted (the limit is read per request)
    monkeypatch.setenv("DISPARO_AGENDA_MAX_BODY_KB", "8")
    assert api_client.post("/templates", json=big, headers=tenant["headers"]).status_code == 201
    assert conn.execute("SELECT count(*) AS n FROM templates").fetchone()["n"] == 1


def test_unauthenticated_body_is_401_before_it_is_parsed(api_client, tenant) -> None:
    """Not a 422 for the broken JSON: who is asking is settled before the body is looked at."""
    for path in ("/templates", "/optouts", f"/leads/{tenant['id']}/disparos", "/campanhas"):
        r = api_client.post(path, content=b"{" * 10, headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert r.headers["content-type"].startswith("application/problem+json")
    r = api_client.post(
        "/templates", content=b"{" * 10, headers={**tenant["headers"], "Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_chunked_json_over_the_limit_in_process(api_client, tenant, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_BODY_KB", "1")

    def body():
        yield b'{"nome": "t", "canal": "whatsapp", "corpo": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    r = api_client.post(
        "/templates", content=body(), headers={**tenant["headers"], "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["title"] == "Conteúdo grande demais"
