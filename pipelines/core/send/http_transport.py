"""A lean HTTP/1.1 keep-alive transport for httpx, used by the MCP client on its hot path.

Why: httpx's default transport (httpcore + anyio + h11) writes headers and body in two syscalls and
spends ~0.7–2 ms of CPU per request; a worker that must POST ≥ 1,000 messages/s from one core cannot
afford that. This transport keeps the httpx client API (timeouts, headers, `httpx.Response`) and does
one write per request on asyncio streams, parsing the answer itself (Content-Length, chunked, or
read-to-close). TLS works through asyncio's SSL support. It speaks only HTTP/1.1, without proxies.

A reused keep-alive connection that the server already closed fails before any byte of the answer; that
request is retried once on a fresh connection (safe here: every MCP request carries an Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import defaultdict

import httpx

_MAX_HEAD = 64 * 1024


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket must never raise
            pass


class _Stale(Exception):
    """The server closed a reused connection before answering."""


class LeanAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 50, ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[tuple[str, str, int], list[_Conn]] = defaultdict(list)
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl = ssl_context
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"scheme {scheme!r} not supported", request=request)
        port = url.port or (443 if scheme == "https" else 80)
        origin = (scheme, url.host, port)
        body = (
            request.content
            if not isinstance(request.stream, httpx.AsyncByteStream)
            else await request.aread()
        )
        head = [f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode()]
        has_host = False
        for name, value in request.headers.raw:
            lname = name.lower()
            if lname == b"host":
                has_host = True
            elif lname in (b"content-length", b"transfer-encoding", b"connection"):
                continue
            head.append(name + b": " + value + b"\r\n")
        if not has_host:
            head.insert(1, b"Host: " + url.netloc + b"\r\n")
        head.append(b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        payload = b"".join(head) + body

        async with self._slots:
            for attempt in (0, 1):
                conn, reused = await self._get(origin, timeouts.get("connect"), request)
                try:
                    async with asyncio.timeout(timeouts.get("read")):  # no extra task, unlike wait_for
                        status, headers, content, keep = await self._exchange(
                            conn, payload, reused, request.method
                        )
                except _Stale:
                    conn.close()
                    if attempt == 0:
                        continue
                    raise httpx.RemoteProtocolError("server closed the connection", request=request) from None
                except TimeoutError:
                    conn.close()
                    raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
                except (OSError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError) as exc:
                    conn.close()
                    raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
                except BaseException:
                    conn.close()  # cancelled mid-exchange: the connection state is unknown
                    raise
                if keep and not self._closed:
                    self._idle[origin].append(conn)
                else:
                    conn.close()
                return httpx.Response(status, headers=headers, content=content, request=request)
        raise AssertionError("unreachable")

    async def _get(
        self, origin: tuple[str, str, int], connect_timeout: float | None, request: httpx.Request
    ) -> tuple[_Conn, bool]:
        idle = self._idle[origin]
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn, True
            conn.close()
        scheme, host, port = origin
        ctx = None
        if scheme == "https":
            ctx = self._ssl or ssl.create_default_context()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, limit=_MAX_HEAD), connect_timeout
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer), False

    @staticmethod
    async def _exchange(
        conn: _Conn, payload: bytes, reused: bool, method: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        reader = conn.reader
        conn.writer.write(payload)
        try:
            await conn.writer.drain()
            raw_head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial):
                raise _Stale from exc
            raise
        lines = raw_head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        http10 = parts[0] == b"HTTP/1.0"
        headers: list[tuple[bytes, bytes]] = []
        length = None
        chunked = False
        close = http10
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            value = value.strip()
            lname = name.strip().lower()
            headers.append((name.strip(), value))
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lname == b"connection":
                close = value.lower() == b"close" or (http10 and value.lower() != b"keep-alive")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            content = b""
        elif chunked:
            chunks = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            content = b"".join(chunks)
        elif length is not None:
            content = await reader.readexactly(length)
        else:
            content = await reader.read()
            close = True
        # httpx must not decode the body again: we already removed the chunked framing
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
        return status, headers, content, not close

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
