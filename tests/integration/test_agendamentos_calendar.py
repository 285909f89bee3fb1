"""Calendar events through the MCP calendar contract, against the simulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from agendamentos_support import make_lead, sim_events, sim_settings

from pipelines.core.agenda import agendamentos as ag
from pipelines.core.agenda.calendar_sync import sync_calendar
from pipelines.core.agenda.lembretes import send_due_reminders
from pipelines.mcp_sim import SimConfig, run_in_thread


@pytest.fixture
def sim():
    handle = run_in_thread(SimConfig())
    yield handle
    handle.stop()


def _row(conn, aid):
    return conn.execute(
        "SELECT calendar_event_id, calendar_status, calendar_versao, calendar_erro, status, versao "
        "FROM agendamentos WHERE agendamento_id = %s",
        (aid,),
    ).fetchone()


def test_create_update_cancel_event(conn, tenant, sim) -> None:
    t, settings = tenant["tenant"], sim_settings(sim.url)
    lead = make_lead(conn, t.id, nome="Mercado Central")
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    doc = ag.create_agendamento(
        conn, t, lead, tipo="reuniao", canal="video", data_agendada=when, responsavel="ana@empresa.com"
    )
    aid = doc["agendamento_id"]
    assert sync_calendar(conn, settings)["criados"] == 1
    row = _row(conn, aid)
    assert row["calendar_status"] == "sincronizado" and row["calendar_event_id"].startswith("sim-cal-")
    (ev,) = sim_events(sim.url)
    assert ev["title"] == "Reunião: Mercado Central" and ev["attendees"] == ["ana@empresa.com"]
    assert ev["start"] == when.isoformat().replace("+00:00", "Z")
    assert ev["end"] == (when + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    assert ev["keys"] == [f"{aid}:1:create"]
    assert sync_calendar(conn, settings) == {
        "criados": 0,
        "atualizados": 0,
        "removidos": 0,
        "sem_mudanca": 0,
        "erros": 0,
    }

    new = when + timedelta(hours=3)
    ag.reschedule_agendamento(conn, t, aid, new)
    assert sync_calendar(conn, settings)["atualizados"] == 1
    (ev,) = sim_events(sim.url)
    assert ev["start"] == new.isoformat().replace("+00:00", "Z") and ev["keys"][-1] == f"{aid}:2:update"

    ag.cancel_agendamento(conn, t, aid, "cliente desistiu")
    assert sync_calendar(conn, settings)["removidos"] == 1
    (ev,) = sim_events(sim.url)
    assert ev["status"] == "cancelled" and ev["keys"][-1] == f"{aid}:2:delete"
    assert _row(conn, aid)["calendar_status"] == "sincronizado"


def test_calendar_failure_keeps_agendamento_and_is_retried_by_the_sweep(
    conn, database_url, tenant, sim
) -> None:
    t, settings = tenant["tenant"], sim_settings(sim.url)
    lead = make_lead(conn, t.id)
    doc = ag.create_agendamento(
        conn, t, lead, tipo="callback", canal="telefone", data_agendada=datetime.now(UTC) + timedelta(days=2)
    )
    httpx.post(f"{sim.url}/sim/calendar/fail", json={"next": 1, "status": 503})
    stats = sync_calendar(conn, settings)
    assert stats["erros"] == 1
    row = _row(conn, doc["agendamento_id"])
    assert row["status"] == "pendente" and row["calendar_status"] == "erro" and "503" in row["calendar_erro"]
    assert row["calendar_event_id"] is None and sim_events(sim.url) == []

    # not before the backoff; then the reminder sweep retries it
    assert sync_calendar(conn, settings)["erros"] == 0 and sim_events(sim.url) == []
    later = datetime.now(UTC) + timedelta(seconds=5)
    stats = send_due_reminders(database_url, settings=settings, now=later)
    assert stats["calendar"]["criados"] == 1
    row = _row(conn, doc["agendamento_id"])
    assert row["calendar_status"] == "sincronizado" and row["calendar_erro"] is None
    assert len(sim_events(sim.url)) == 1


def test_create_is_idempotent_when_the_answer_is_lost(conn, tenant, sim) -> None:
    """A create whose answer never arrived is repeated with the same key: still one event."""
    t, settings = tenant["tenant"], sim_settings(sim.url)
    doc = ag.create_agendamento(
        conn,
        t,
        make_lead(conn, t.id),
        tipo="callback",
        canal="telefone",
        data_agendada=datetime.now(UTC) + timedelta(days=1),
    )
    key = f"{doc['agendamento_id']}:1:create"
    body = {"title": "x", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:30:00Z"}
    first = httpx.post(f"{sim.url}/mcp/calendar/events", json=body, headers={"Idempotency-Key": key}).json()
    sync_calendar(conn, settings)
    assert _row(conn, doc["agendamento_id"])["calendar_event_id"] == first["eventId"]
    assert len(sim_events(sim.url)) == 1


def test_api_syncs_calendar_after_response(api_client, conn, tenant, sim, monkeypatch) -> None:
    monkeypatch.setenv("MCP_CALENDAR_ENDPOINT", sim.url)
    lead = make_lead(conn, tenant["id"])
    r = api_client.post(
        f"/leads/{lead}/agendamentos",
        json={
            "tipo": "callback",
            "canal": "whatsapp",
            "data_agendada": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=tenant["headers"],
    )
    assert r.status_code == 201
    aid = r.json()["agendamento_id"]
    doc = api_client.get(f"/agendamentos/{aid}", headers=tenant["headers"]).json()
    assert doc["calendar_status"] == "sincronizado" and doc["calendar_event_id"]
    api_client.post(f"/agendamentos/{aid}/cancelar", json={"motivo": "x"}, headers=tenant["headers"])
    (ev,) = sim_events(sim.url)
    assert ev["status"] == "cancelled"
