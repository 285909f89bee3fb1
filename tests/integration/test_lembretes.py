"""Reminders against the MCP simulator over real HTTP: timing, once-only delivery, cancel/reschedule,
retries, and the lead's reminder."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from agendamentos_support import make_lead, sim_messages, sim_settings

from pipelines.core.agenda import agendamentos as ag
from pipelines.core.agenda.lembretes import send_due_reminders
from pipelines.core.tenancy.tenants import get_tenant, update_tenant
from pipelines.mcp_sim import SimConfig, run_in_thread


@pytest.fixture
def sim():
    handle = run_in_thread(SimConfig(seed=1))
    yield handle
    handle.stop()


@pytest.fixture
def team(conn, tenant):
    """Tenant with a team WhatsApp number (used when an agendamento has no responsavel)."""
    update_tenant(conn, tenant["slug"], equipe_canal="whatsapp", equipe_destino="+5511900000001")
    return get_tenant(conn, tenant["id"])


def _create(conn, t, lead, minutes_ahead: float, **kw):
    when = datetime.now(UTC) + timedelta(minutes=minutes_ahead)
    kw.setdefault("tipo", "callback")
    kw.setdefault("canal", "telefone")
    return ag.create_agendamento(conn, t, lead, data_agendada=when, **kw)


def _sweep(database_url, sim, minutes_from_now: float = 0.0, **kw):
    now = datetime.now(UTC) + timedelta(minutes=minutes_from_now)
    return send_due_reminders(
        database_url, settings=sim_settings(sim.url, calendar=False), now=now, time_budget_s=10, **kw
    )


def test_not_due_before_time_then_sent_once(conn, database_url, team, sim) -> None:
    lead = make_lead(conn, team.id, nome="Padaria Boa Massa")
    doc = _create(conn, team, lead, 40, lembrete_minutos=30, observacoes="ligar após o almoço")
    key = f"{doc['agendamento_id']}:responsavel:1"

    stats = _sweep(database_url, sim, 9)  # due in 10 min
    assert stats["enviados"] == 0 and sim_messages(sim.url) == []

    stats = _sweep(database_url, sim, 11)
    assert stats["enviados"] == 1
    (msg,) = sim_messages(sim.url)
    assert msg["canal"] == "whatsapp" and msg["to"] == "+5511900000001" and msg["idempotency_key"] == key
    local = datetime.fromisoformat(doc["data_agendada"].replace("Z", "+00:00")).astimezone(team.tz)
    assert f"{local:%d/%m/%Y %H:%M} (America/Sao_Paulo)" in msg["message"]
    assert "Padaria Boa Massa" in msg["message"] and "ligar após o almoço" in msg["message"]

    assert _sweep(database_url, sim, 12)["enviados"] == 0  # sent once
    assert len(sim_messages(sim.url)) == 1
    row = conn.execute("SELECT status, message_id, tentativas FROM agendamento_lembretes").fetchone()
    assert row["status"] == "enviado" and row["message_id"] == msg["messageId"] and row["tentativas"] == 1


def test_two_workers_send_each_key_once(conn, database_url, team, sim) -> None:
    httpx.post(f"{sim.url}/sim/config", json={"latency_ms": 20})
    leads = [make_lead(conn, team.id) for _ in range(12)]
    keys = set()
    for i, lead in enumerate(leads):
        doc = _create(conn, team, lead, 20 + i, lembrete_minutos=60, tipo="reuniao", lembrete_lead=True)
        keys |= {f"{doc['agendamento_id']}:responsavel:1", f"{doc['agendamento_id']}:lead:1"}

    results: list[dict] = []
    workers = [
        threading.Thread(target=lambda: results.append(_sweep(database_url, sim, batch_size=5)))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(r["enviados"] for r in results) == 24
    msgs = sim_messages(sim.url)
    assert sorted(m["idempotency_key"] for m in msgs) == sorted(keys)  # one message per key, no duplicates
    assert httpx.get(f"{sim.url}/sim/stats").json()["duplicates"] == 0
    lead_msgs = [m for m in msgs if m["idempotency_key"].endswith(":lead:1")]
    assert all(m["message"].startswith("Olá, maria!") for m in lead_msgs)


def test_cancel_and_reschedule_before_the_reminder(conn, database_url, team, sim) -> None:
    lead = make_lead(conn, team.id)
    cancelled = _create(conn, team, lead, 40, lembrete_minutos=30)
    moved = _create(conn, team, lead, 45, lembrete_minutos=30)
    ag.cancel_agendamento(conn, team, cancelled["agendamento_id"], "cliente pediu")
    new_time = datetime.now(UTC) + timedelta(minutes=120)
    ag.reschedule_agendamento(conn, team, moved["agendamento_id"], new_time)

    stats = _sweep(database_url, sim, 20)  # the old times are due now: nothing goes out
    assert stats["enviados"] == 0 and sim_messages(sim.url) == []

    stats = _sweep(database_url, sim, 95)  # new time (120 - 30 min) is due
    assert stats["enviados"] == 1
    (msg,) = sim_messages(sim.url)
    assert msg["idempotency_key"] == f"{moved['agendamento_id']}:responsavel:2"
    assert f"{new_time.astimezone(team.tz):%d/%m/%Y %H:%M}" in msg["message"]


def test_claim_rechecks_agendamento_even_if_reminder_left_pending(conn, database_url, team, sim) -> None:
    """Defense in depth: a reminder row left 'pendente' for an agendamento that is no longer pending (or moved)
    is never sent; the sweep marks it cancelado."""
    lead = make_lead(conn, team.id)
    doc = _create(conn, team, lead, 40, lembrete_minutos=30)
    conn.execute(
        "UPDATE agendamentos SET status = 'realizado', realizado_em = now() WHERE agendamento_id = %s",
        (doc["agendamento_id"],),
    )
    stats = _sweep(database_url, sim, 15)
    assert stats["enviados"] == 0 and stats["cancelados"] == 1 and sim_messages(sim.url) == []


def test_retries_with_backoff_then_error(conn, database_url, team, sim) -> None:
    lead = make_lead(conn, team.id)
    doc = _create(conn, team, lead, 30, lembrete_minutos=30, responsavel="ana@empresa.com")
    httpx.post(f"{sim.url}/sim/config", json={"rate_5xx": 1.0})
    base = datetime.now(UTC) + timedelta(minutes=1)

    def sweep_at(seconds: float) -> dict:
        return send_due_reminders(
            database_url,
            settings=sim_settings(sim.url, calendar=False),
            now=base + timedelta(seconds=seconds),
        )

    assert sweep_at(0)["retry"] == 1
    row = conn.execute("SELECT status, tentativas, disponivel_em FROM agendamento_lembretes").fetchone()
    assert row["status"] == "pendente" and row["tentativas"] == 1
    assert row["disponivel_em"] == base + timedelta(seconds=1)  # backoff 1 s
    assert sweep_at(0.5)["reclamados"] == 0  # not before the backoff
    assert sweep_at(1)["retry"] == 1  # attempt 2, next in 2 s
    assert sweep_at(3)["erro"] == 1  # attempt 3 = max_tentativas
    row = conn.execute("SELECT status, tentativas, mensagem_erro FROM agendamento_lembretes").fetchone()
    assert row["status"] == "erro" and row["tentativas"] == 3 and "503" in row["mensagem_erro"]
    assert sim_messages(sim.url) == []

    # the same through a recovering server: the retry succeeds with the same idempotency key
    doc2 = ag.reschedule_agendamento(
        conn, team, doc["agendamento_id"], datetime.now(UTC) + timedelta(minutes=30)
    )
    assert sweep_at(0)["retry"] == 1
    httpx.post(f"{sim.url}/sim/config", json={"rate_5xx": 0.0})
    assert sweep_at(1)["enviados"] == 1
    (msg,) = sim_messages(sim.url)
    assert msg["canal"] == "email" and msg["to"] == "ana@empresa.com"
    assert msg["idempotency_key"] == f"{doc2['agendamento_id']}:responsavel:2"


def test_lead_reminder_needs_reuniao_and_consent(conn, database_url, team, sim) -> None:
    with_phone = make_lead(conn, team.id, telefone="+5584997084444")
    only_email = make_lead(conn, team.id, telefone=None, email="contato@cliente.com.br")
    conn.execute(
        "INSERT INTO optouts (tenant_id, canal, destino) VALUES (%s, 'whatsapp', '+5584997084444')",
        (team.id,),
    )
    make_phone_and_email = make_lead(conn, team.id, telefone="+5584988887777", email="b@cliente.com.br")
    _create(conn, team, make_phone_and_email, 20, lembrete_minutos=30, tipo="reuniao", lembrete_lead=True)
    _create(conn, team, only_email, 20, lembrete_minutos=30, tipo="reuniao", lembrete_lead=True)
    _create(conn, team, with_phone, 20, lembrete_minutos=30, tipo="reuniao", lembrete_lead=True)  # opted out
    _create(conn, team, make_phone_and_email, 50, lembrete_minutos=60, tipo="callback", lembrete_lead=True)
    _create(conn, team, make_phone_and_email, 80, lembrete_minutos=90, tipo="reuniao", lembrete_lead=False)

    _sweep(database_url, sim)
    to_lead = sorted((m["canal"], m["to"]) for m in sim_messages(sim.url) if ":lead:" in m["idempotency_key"])
    assert to_lead == [("email", "contato@cliente.com.br"), ("whatsapp", "+5584988887777")]
    blocked = conn.execute(
        "SELECT mensagem_erro FROM agendamento_lembretes WHERE destinatario = 'lead' AND status = 'bloqueado'"
    ).fetchall()
    assert len(blocked) == 1 and "não ser contatado" in blocked[0]["mensagem_erro"]
    assert len([m for m in sim_messages(sim.url) if ":responsavel:" in m["idempotency_key"]]) == 5


def test_reminder_after_the_meeting_expires(conn, database_url, team, sim) -> None:
    lead = make_lead(conn, team.id)
    _create(conn, team, lead, 10, lembrete_minutos=5)
    stats = _sweep(database_url, sim, 30)  # the sweep was down until 20 min after the meeting
    assert stats["expirados"] == 1 and stats["enviados"] == 0 and sim_messages(sim.url) == []


def test_cancel_racing_an_in_flight_reminder_waits_for_it(conn, database_url, team, sim) -> None:
    """The claim holds the agendamento FOR SHARE while its reminder is in flight: a cancel arriving then
    commits only after the send, so no reminder is ever sent after the cancel."""
    httpx.post(f"{sim.url}/sim/config", json={"latency_ms": 800})
    doc = _create(conn, team, make_lead(conn, team.id), 20, lembrete_minutos=30)
    worker = threading.Thread(target=lambda: _sweep(database_url, sim))
    worker.start()
    deadline = time.monotonic() + 10
    while httpx.get(f"{sim.url}/sim/stats").json()["requests"] == 0:  # the send is in flight
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ag.cancel_agendamento(conn, team, doc["agendamento_id"], "cliente ligou antes")
    cancelled_at = datetime.now(UTC)
    worker.join()
    (msg,) = sim_messages(sim.url)
    assert datetime.fromisoformat(msg["received_at"].replace("Z", "+00:00")) <= cancelled_at
    row = conn.execute("SELECT status FROM agendamento_lembretes").fetchone()
    assert row["status"] == "enviado"
