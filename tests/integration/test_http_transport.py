"""The lean httpx transport of the MCP client against a raw asyncio server: framing and keep-alive."""

from __future__ import annotations

import asyncio

import httpx

from pipelines.core.send.http_transport import LeanAsyncTransport


async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def test_framing_and_reconnect_after_server_closes_idle_connection() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader, writer):
        nonlocal connections
        connections += 1
        try:
            while True:
                head, body = await _read_request(reader)
                seen.append(head + body)
                path = head.split(b" ")[1]
                if path == b"/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                elif path == b"/close":
                    writer.write(b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
                    writer.close()
                    return
                elif path == b"/then-close":  # answers keep-alive, then drops the idle connection
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
                    writer.close()
                    return
                else:
                    writer.write(
                        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a": 1}'
                    )
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    async def go():
        server, url = await _serve(handler)
        async with httpx.AsyncClient(transport=LeanAsyncTransport(max_connections=1), timeout=2) as client:
            r = await client.post(url + "/json", content=b'{"x":1}', headers={"Idempotency-Key": "k"})
            assert r.status_code == 200 and r.json() == {"a": 1}
            assert (await client.get(url + "/chunked")).text == "hello world"
            r = await client.post(url + "/close", json={})
            assert (r.status_code, r.text) == (201, "ok")
            assert (await client.get(url + "/then-close")).text == "ok"
            await asyncio.sleep(0.05)
            assert (await client.get(url + "/json")).json() == {"a": 1}  # stale connection replaced
        server.close()
        await server.wait_closed()

    asyncio.run(go())
    assert b"Idempotency-Key: k" in seen[0] and seen[0].endswith(b'{"x":1}')
    assert seen[0].count(b"Content-Length: 7") == 1
    assert connections == 3  # one reused for /json,/chunked,/close; a new one after close; another after drop


def test_read_timeout_and_refused_connection_map_to_httpx_errors() -> None:
    async def silent(reader, writer):
        await _read_request(reader)
        await asyncio.sleep(1)
        writer.close()

    async def go():
        server, url = await _serve(silent)
        async with httpx.AsyncClient(transport=LeanAsyncTransport(), timeout=0.2) as client:
            try:
                await client.get(url + "/")
            except httpx.ReadTimeout:
                pass
            else:
                raise AssertionError("expected ReadTimeout")
            try:
                await client.get("http://127.0.0.1:9/")
            except httpx.ConnectError:
                pass
            else:
                raise AssertionError("expected ConnectError")
        server.close()

    asyncio.run(go())
