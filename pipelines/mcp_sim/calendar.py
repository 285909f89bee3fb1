"""MCP simulator — calendar endpoints (a TEST DOUBLE; see pipelines/core/agenda/calendar_sync.py for the contract).

``POST /mcp/calendar/events``, ``PATCH``/``DELETE /mcp/calendar/events/{eventId}``, each honouring
``Idempotency-Key`` (a repeated key replays the first answer and changes nothing). In-memory, one store
per simulator app. Inspection and control: ``GET /sim/calendar/events`` (every event with the keys that
touched it), ``GET /sim/calendar/requests`` (every request, duplicates included), ``POST
/sim/calendar/fail`` ``{"next": n, "status": 503}`` (the next n calendar requests fail),
``POST /sim/calendar/reset``.
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(tags=["sim-calendar"])

_FIELDS = ("title", "description", "start", "end", "attendees", "location")


@dataclass
class CalendarStore:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # key -> first answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503


def _store(request: Request) -> CalendarStore:
    st = getattr(request.app.state, "sim_calendar", None)
    if st is None:
        st = CalendarStore()
        request.app.state.sim_calendar = st
    return st


def _json(status: int, data: Any) -> Response:
    return Response(json.dumps(data).encode(), status_code=status, media_type="application/json")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _validate(body: Any, *, partial: bool) -> str | None:
    if not isinstance(body, dict):
        return "corpo deve ser um objeto JSON"
    required = () if partial else ("title", "start", "end")
    for name in required:
        if not isinstance(body.get(name), str) or not body[name]:
            return f"campo obrigatório ausente ou vazio: {name}"
    for name in ("start", "end"):
        if name in body:
            try:
                datetime.fromisoformat(str(body[name]).replace("Z", "+00:00"))
            except ValueError:
                return f"{name} não é ISO-8601"
    if "attendees" in body and body["attendees"] is not None and not isinstance(body["attendees"], list):
        return "attendees deve ser uma lista"
    return None


async def _handle(request: Request, op: str, event_id: str | None = None) -> Response:
    st = _store(request)
    key = request.headers.get("idempotency-key")
    entry = {"op": op, "eventId": event_id, "idempotency_key": key, "at": _now()}
    st.requests.append(entry)
    sim = getattr(request.app.state, "sim", None)
    token = sim.config.token if sim is not None else None
    if token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
        entry["status"] = 401
        return _json(401, {"error": "token inválido"})
    if st.fail_next > 0:
        st.fail_next -= 1
        entry["status"] = st.fail_status
        return _json(st.fail_status, {"error": f"falha simulada ({st.fail_status})"})
    scoped = f"{op}:{key}" if key else None
    if scoped and scoped in st.answers:
        status, answer = st.answers[scoped]
        entry["status"], entry["duplicate"] = status, True
        return _json(status, answer)
    body: Any = None
    if op != "delete":
        try:
            body = json.loads(await request.body())
        except ValueError:
            entry["status"] = 400
            return _json(400, {"error": "JSON inválido"})
        problem = _validate(body, partial=op == "update")
        if problem:
            entry["status"] = 400
            return _json(400, {"error": problem})
    if op == "create":
        event_id = f"sim-cal-{uuid.uuid4().hex}"
        st.events[event_id] = {
            "eventId": event_id,
            **{k: body.get(k) for k in _FIELDS},
            "status": "confirmed",
            "created_at": _now(),
            "updated_at": _now(),
            "keys": [key],
            "history": [{"op": "create", "idempotency_key": key}],
        }
    else:
        event = st.events.get(event_id or "")
        if event is None:
            entry["status"] = 404
            return _json(404, {"error": "evento não encontrado"})
        if op == "update":
            event.update({k: body[k] for k in _FIELDS if k in body})
        else:
            event["status"] = "cancelled"
        event["updated_at"] = _now()
        event["keys"].append(key)
        event["history"].append({"op": op, "idempotency_key": key})
    answer = {"eventId": event_id, "status": st.events[event_id]["status"]}
    status = 201 if op == "create" else 200
    if scoped:
        st.answers[scoped] = (status, answer)
    entry["status"] = status
    entry["eventId"] = event_id
    return _json(status, answer)


@router.post("/mcp/calendar/events")
async def create_event(request: Request) -> Response:
    return await _handle(request, "create")


@router.patch("/mcp/calendar/events/{event_id}")
async def update_event(event_id: str, request: Request) -> Response:
    return await _handle(request, "update", event_id)


@router.delete("/mcp/calendar/events/{event_id}")
async def delete_event(event_id: str, request: Request) -> Response:
    return await _handle(request, "delete", event_id)


@router.get("/sim/calendar/events")
async def list_events(request: Request, status: str | None = None) -> Response:
    items = [e for e in _store(request).events.values() if status is None or e["status"] == status]
    return _json(200, {"total": len(items), "items": items})


@router.get("/sim/calendar/requests")
async def list_requests(request: Request) -> Response:
    reqs = _store(request).requests
    return _json(200, {"total": len(reqs), "items": reqs})


@router.post("/sim/calendar/fail")
async def fail_next(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
        n, status = int(body.get("next", 1)), int(body.get("status", 503))
    except (ValueError, TypeError, AttributeError):
        return _json(422, {"error": 'use {"next": n, "status": 503}'})
    if n < 0 or not 400 <= status <= 599:
        return _json(422, {"error": "next >= 0 e status entre 400 e 599"})
    st = _store(request)
    st.fail_next, st.fail_status = n, status
    return _json(200, {"next": n, "status": status})


@router.post("/sim/calendar/reset")
async def reset(request: Request) -> Response:
    request.app.state.sim_calendar = CalendarStore()
    return _json(200, {"ok": True})
