"""MCP simulator — a TEST DOUBLE of the external WhatsApp/Email MCP servers (seed section 5).

Used by tests, the demo and benchmarks; nothing in the product depends on it. It answers
``POST /mcp/whatsapp/send`` and ``POST /mcp/email/send`` with configurable latency and failure classes,
honours ``Idempotency-Key`` (a repeated key gets the first answer and is not counted twice), records every
accepted message (``GET /sim/messages``, ``GET /sim/stats``), changes behaviour at run time
(``POST /sim/config``, ``POST /sim/reset``) and sends signed delivery receipts to a webhook
(``POST /sim/receipts``).

Extra routers: any module of this package (other than app/config/__init__/__main__) that exports
``router`` is included; its handlers reach the shared state as ``request.app.state.sim`` (`SimState`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import json
import pkgutil
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pipelines.core.common.errors import ValidationError
from pipelines.mcp_sim.config import SimConfig

_SKIP_MODULES = {"app", "config", "__init__", "__main__"}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SimState:
    """Everything the simulator remembers; one per app (single process, one event loop)."""

    config: SimConfig
    initial: SimConfig
    rng: random.Random = field(default_factory=random.Random)
    messages: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # idempotency key -> first answer
    inflight: dict[str, asyncio.Future] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)  # every send request: key, time, status

    def reset(self, config: SimConfig | None = None) -> None:
        self.config = config or self.initial
        self.rng = random.Random(self.config.seed)
        self.messages.clear()
        self.by_id.clear()
        self.answers.clear()
        self.inflight.clear()
        self.attempts.clear()
        self.counters = dict.fromkeys(
            ("requests", "accepted", "sent", "failed", "duplicates", "http_5xx", "http_429", "timeout",
             "http_4xx", "invalid", "unauthorized"),
            0,
        )  # fmt: skip

    def stats(self) -> dict[str, Any]:
        by_canal: dict[str, int] = {}
        max_hits = 0
        for m in self.messages:
            by_canal[m["canal"]] = by_canal.get(m["canal"], 0) + 1
            max_hits = max(max_hits, m["hits"])
        first = self.messages[0]["t"] if self.messages else None
        last = self.messages[-1]["t"] if self.messages else None
        rate = (len(self.messages) - 1) / (last - first) if first and last and last > first else None
        return {
            **self.counters,
            "by_canal": by_canal,
            "max_hits_per_key": max_hits,
            "first_t": first,
            "last_t": last,
            "accepted_rate": rate,
            "config": self.config.as_dict(),
        }


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data).encode(), status_code=status, media_type="application/json", headers=headers
    )


def _validate(canal: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "corpo deve ser um objeto JSON"
    required = ("to", "message") if canal == "whatsapp" else ("to", "subject", "body")
    for name in required:
        if not isinstance(body.get(name), str) or not body[name]:
            return f"campo obrigatório ausente ou vazio: {name}"
    if "variables" in body and body["variables"] is not None and not isinstance(body["variables"], dict):
        return "variables deve ser um objeto"
    return None


def _draw(st: SimState) -> str:
    c = st.config
    x = st.rng.random()
    for name, rate in (
        ("http_5xx", c.rate_5xx),
        ("http_429", c.rate_429),
        ("timeout", c.rate_timeout),
        ("http_4xx", c.rate_4xx),
        ("failed", c.rate_failed),
    ):
        if x < rate:
            return name
        x -= rate
    return "sent"


async def _answer(st: SimState, canal: str, body: dict[str, Any], key: str | None) -> tuple[int, bytes, dict]:
    c = st.config
    outcome = _draw(st)
    delay = c.latency_ms / 1000 + (st.rng.random() * c.latency_jitter_ms / 1000 if c.latency_jitter_ms else 0)
    if outcome == "timeout":
        delay = max(delay, c.timeout_s)
    if delay > 0:
        await asyncio.sleep(delay)
    if outcome == "timeout":
        st.counters["timeout"] += 1
        return 504, b'{"error": "simulated timeout"}', {}
    if outcome == "http_5xx":
        st.counters["http_5xx"] += 1
        return 503, b'{"error": "simulated 503"}', {}
    if outcome == "http_429":
        st.counters["http_429"] += 1
        return 429, b'{"error": "simulated rate limit"}', {"Retry-After": f"{c.retry_after_s:g}"}
    if outcome == "http_4xx":
        st.counters["http_4xx"] += 1
        return 400, b'{"error": "simulated permanent rejection (400)"}', {}
    message_id = f"sim-{canal[:2]}-{uuid.uuid4().hex}"
    answer: dict[str, Any] = {"messageId": message_id, "status": "sent"}
    if outcome == "failed":
        answer = {"messageId": message_id, "status": "failed", "error": "destino inválido (simulado)"}
    record = {
        "messageId": message_id,
        "canal": canal,
        "to": body["to"],
        "message": body.get("message"),
        "subject": body.get("subject"),
        "body": body.get("body"),
        "html": body.get("html"),
        "templateId": body.get("templateId"),
        "variables": body.get("variables"),
        "idempotency_key": key,
        "status": answer["status"],
        "error": answer.get("error"),
        "received_at": _now_iso(),
        "t": time.time(),
        "hits": 1,
        "accepted": outcome == "sent",  # answered status "sent" (receipts with messageIds null go to these)
    }
    st.messages.append(record)
    st.by_id[message_id] = record
    st.counters["accepted"] += 1
    st.counters["sent" if outcome == "sent" else "failed"] += 1
    return 200, json.dumps(answer).encode(), {}


async def _send(request: Request, canal: str) -> Response:
    st: SimState = request.app.state.sim
    arrived = time.time()
    st.counters["requests"] += 1
    token = st.config.token
    if token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
        st.counters["unauthorized"] += 1
        return _json(401, {"error": "token inválido"})
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        st.counters["invalid"] += 1
        return _json(400, {"error": "JSON inválido"})
    problem = _validate(canal, body)
    if problem:
        st.counters["invalid"] += 1
        return _json(400, {"error": problem})
    key = request.headers.get("idempotency-key")
    if key:
        scoped = f"{canal}:{key}"
        pending = st.inflight.get(scoped)
        if pending is not None:  # same key while the first is still being answered: wait for its answer
            await asyncio.shield(pending)
        cached = st.answers.get(scoped)
        if cached is not None:
            st.counters["duplicates"] += 1
            status, payload = cached
            message_id = json.loads(payload).get("messageId")
            if message_id in st.by_id:
                st.by_id[message_id]["hits"] += 1
            st.attempts.append(
                {
                    "idempotency_key": key,
                    "canal": canal,
                    "t": arrived,
                    "http_status": status,
                    "repetido": True,
                }
            )
            return Response(payload, status_code=status, media_type="application/json")
        fut = asyncio.get_running_loop().create_future()
        st.inflight[scoped] = fut
        try:
            status, payload, headers = await _answer(st, canal, body, key)
            if status == 200:  # only final answers are replayed; retryable ones may succeed next time
                st.answers[scoped] = (status, payload)
        finally:
            st.inflight.pop(scoped, None)
            if not fut.done():
                fut.set_result(None)
    else:
        status, payload, headers = await _answer(st, canal, body, None)
    st.attempts.append(
        {"idempotency_key": key, "canal": canal, "t": arrived, "http_status": status, "repetido": False}
    )
    return Response(payload, status_code=status, media_type="application/json", headers=headers)


def _include_extra_routers(app: FastAPI) -> None:
    import pipelines.mcp_sim as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name in _SKIP_MODULES:
            continue
        mod = importlib.import_module(f"{package.__name__}.{module.name}")
        router = getattr(mod, "router", None)
        if router is not None:
            app.include_router(router)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-MCP-Signature value of a receipt body sent with `X-MCP-Timestamp: timestamp`: an HMAC over
    "<timestamp>.<body>", so a receipt cannot be replayed once its timestamp is too old."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def create_app(config: SimConfig | None = None) -> FastAPI:
    config = config or SimConfig()
    app = FastAPI(
        title="MCP simulator (test double)",
        description="Test double of the MCP WhatsApp/Email servers. Not a product component.",
        version="0.1.0",
    )
    state = SimState(config=config, initial=config)
    state.reset(config)
    app.state.sim = state

    @app.post("/mcp/whatsapp/send")
    async def whatsapp_send(request: Request) -> Response:
        return await _send(request, "whatsapp")

    @app.post("/mcp/email/send")
    async def email_send(request: Request) -> Response:
        return await _send(request, "email")

    @app.get("/sim/messages")
    async def messages(
        canal: str | None = None,
        to: str | None = None,
        idempotency_key: str | None = None,
        status: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> JSONResponse:
        items = [
            {k: v for k, v in m.items() if k != "t"}
            for m in state.messages
            if (canal is None or m["canal"] == canal)
            and (to is None or m["to"] == to)
            and (idempotency_key is None or m["idempotency_key"] == idempotency_key)
            and (status is None or m["status"] == status)
        ]
        return JSONResponse({"total": len(items), "items": items[offset : offset + max(0, limit)]})

    @app.get("/sim/attempts")
    async def attempts(idempotency_key: str | None = None, limit: int = 100_000) -> JSONResponse:
        """Every send request that reached an answer (retries included), oldest first: the key, the
        arrival time (`t`, epoch seconds) and the HTTP status — for retry spacing and re-send checks."""
        items = [
            a for a in state.attempts if idempotency_key is None or a["idempotency_key"] == idempotency_key
        ]
        return JSONResponse({"total": len(items), "items": items[: max(0, limit)]})

    @app.get("/sim/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(state.stats())

    @app.post("/sim/config")
    async def set_config(request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValidationError("corpo deve ser um objeto JSON")
            state.config = state.config.updated(changes)
        except (ValueError, TypeError, ValidationError) as exc:
            return _json(422, {"error": getattr(exc, "message", str(exc))})
        state.rng = random.Random(state.config.seed) if "seed" in changes else state.rng
        return _json(200, state.config.as_dict())

    @app.post("/sim/reset")
    async def reset() -> Response:
        state.reset()
        return _json(200, {"ok": True})

    @app.post("/sim/receipts")
    async def receipts(request: Request) -> Response:
        """POST one signed receipt per message to `webhook_url`; answers the list of webhook statuses."""
        try:
            body = await request.json()
        except ValueError:
            return _json(422, {"error": "JSON inválido"})
        if (
            not isinstance(body, dict)
            or not body.get("webhook_url")
            or not isinstance(body.get("secret"), str)
        ):
            return _json(422, {"error": "informe webhook_url e secret"})
        status = body.get("status", "delivered")
        if status not in ("delivered", "read", "failed"):
            return _json(422, {"error": "status deve ser delivered, read ou failed"})
        ids = body.get("messageIds")
        if ids is None:
            targets = [
                m for m in state.messages if m["status"] == "sent" or m["status"] in ("delivered", "read")
            ]
        else:
            unknown = [i for i in ids if i not in state.by_id]
            if unknown:
                return _json(404, {"error": "messageId desconhecido", "messageIds": unknown})
            targets = [state.by_id[i] for i in ids]
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=10.0) as client:
            for m in targets:
                receipt: dict[str, Any] = {
                    "messageId": m["messageId"],
                    "status": status,
                    "timestamp": _now_iso(),
                }
                if body.get("error") is not None or status == "failed":
                    receipt["error"] = body.get("error") or "falha de entrega (simulada)"
                raw = json.dumps(receipt).encode()
                ts = int(time.time())
                try:
                    resp = await client.post(
                        body["webhook_url"],
                        content=raw,
                        headers={
                            "Content-Type": "application/json",
                            "X-MCP-Timestamp": str(ts),
                            "X-MCP-Signature": sign(body["secret"], raw, ts),
                        },
                    )
                    statuses.append(resp.status_code)
                except httpx.HTTPError:
                    statuses.append(0)  # webhook unreachable
                m["status"] = status
        return _json(200, statuses)

    _include_extra_routers(app)
    return app


class SimHandle:
    """A simulator running in a background thread (tests). `url` is its base URL."""

    def __init__(self, server: Any, thread: threading.Thread, app: FastAPI, url: str) -> None:
        self._server = server
        self._thread = thread
        self.app = app
        self.url = url

    @property
    def state(self) -> SimState:
        return self.app.state.sim

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(config: SimConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> SimHandle:
    """Start uvicorn in a daemon thread on `port` (0 = a free one); returns once it accepts requests."""
    import uvicorn

    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="mcp-sim")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("o simulador MCP não iniciou")
        time.sleep(0.01)
    return SimHandle(server, thread, app, f"http://{host}:{actual}")


def serve(config: SimConfig, host: str = "127.0.0.1", port: int = 8100) -> None:
    """Run in the foreground (the CLI)."""
    import uvicorn

    uvicorn.run(
        create_app(config), host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
