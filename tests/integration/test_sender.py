"""Send engine against real PostgreSQL and the MCP simulator over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.settings import Settings
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import list_dlq, redrive
from pipelines.core.tenancy.tenants import update_tenant


@pytest.fixture
def mcp(sim, monkeypatch):
    """A clean simulator; the MCP env vars point at it (CLI and Dagster read them)."""
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_TOKEN", "tok")
    return sim


def _settings(sim) -> Settings:
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url, mcp_token="tok")
    )


def _configure(sim, **changes) -> None:
    httpx.post(sim.url + "/sim/config", json=changes).raise_for_status()


def _stats(sim) -> dict:
    return httpx.get(sim.url + "/sim/stats").json()


def _messages(sim, **params) -> list[dict]:
    return httpx.get(sim.url + "/sim/messages", params={"limit": 100000, **params}).json()["items"]


def _status(conn, ids) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) GROUP BY status", (ids,)
    ).fetchall()
    return {r["status"]: r["n"] for r in rows}


def _make_due(conn, ids) -> None:
    """Skip the backoff wait: the scheduled retry becomes due now."""
    conn.execute("UPDATE disparos SET data_agendado = now() WHERE disparo_id = ANY(%s)", (ids,))


def test_drain_sends_writes_back_and_publishes(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 30)
    email_ids = seed_due(conn, tenant["id"], 5, canal="email", prefix="E")
    before = conn.execute("SELECT max(data_ultimo_evento) AS m FROM leads").fetchone()["m"]
    assert sender.count_due(conn) == [
        {"tenant_id": tenant["id"], "tenant_slug": "acme", "canal": "email", "due": 5},
        {"tenant_id": tenant["id"], "tenant_slug": "acme", "canal": "whatsapp", "due": 30},
    ]
    stats = sender.send_due(database_url, settings=_settings(mcp), batch_size=8, time_budget_s=20)
    assert (stats.enviados, stats.falhas, stats.reenvios, stats.dlq) == (35, 0, 0, 0)
    assert _status(conn, ids + email_ids) == {"enviado": 35}
    rows = conn.execute(
        "SELECT disparo_id, message_id, data_envio, tentativas, lease_owner FROM disparos"
    ).fetchall()
    assert all(
        r["message_id"] and r["data_envio"] and r["tentativas"] == 1 and not r["lease_owner"] for r in rows
    )
    # the simulator got each disparo once, keyed by its id, with the payload's text
    msgs = _messages(mcp)
    assert sorted(m["idempotency_key"] for m in msgs) == sorted(str(i) for i in ids + email_ids)
    by_key = {m["idempotency_key"]: m for m in msgs}
    assert by_key[str(ids[0])]["message"].startswith("Olá, Lead")
    assert by_key[str(email_ids[0])]["subject"] == "Bem-vindo"
    ev = conn.execute(
        "SELECT tipo, payload FROM eventos_outbox WHERE entidade_id = ANY(%s)", (ids + email_ids,)
    ).fetchall()
    assert len(ev) == 35 and {e["tipo"] for e in ev} == {sender.EVENT_COMPLETED}
    assert {e["payload"]["status"] for e in ev} == {"enviado"}
    after = conn.execute("SELECT min(data_ultimo_evento) AS m FROM leads").fetchone()["m"]
    assert after > before
    assert sender.count_due(conn) == []


def test_two_concurrent_workers_never_double_send(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 200)
    _configure(mcp, latency_ms=1)
    results = []

    def work(n: int) -> None:
        results.append(
            sender.send_due(
                database_url, settings=_settings(mcp), batch_size=25, worker_id=f"w{n}", concurrency=10
            )
        )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.enviados for r in results) == 200
    assert all(r.enviados > 0 for r in results)  # both really worked
    st = _stats(mcp)
    assert (st["requests"], st["accepted"], st["duplicates"], st["max_hits_per_key"]) == (200, 200, 0, 1)
    assert _status(conn, ids) == {"enviado": 200}


def test_expired_lease_is_reclaimed_with_the_same_key(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 6)
    # a worker claimed all six and died; it had already POSTed the first two
    conn.execute(
        "UPDATE disparos SET status = 'enviando', tentativas = 1, lease_owner = 'morto', "
        "lease_ate = now() + interval '1 hour' WHERE disparo_id = ANY(%s)",
        (ids,),
    )
    for did in ids[:2]:
        httpx.post(
            mcp.url + "/mcp/whatsapp/send",
            json={"to": "+5584900000001", "message": "x"},
            headers={"Idempotency-Key": str(did)},
        ).raise_for_status()
    live = sender.send_due(database_url, settings=_settings(mcp))
    assert live.enviados == 0  # lease still valid: nobody else touches them
    # time passes (injected in the database instead of slept): the dead worker's lease is now over
    conn.execute("UPDATE disparos SET lease_ate = now() - interval '1 second' WHERE lease_owner = 'morto'")
    stats = sender.send_due(database_url, settings=_settings(mcp))
    assert (stats.reassumidos, stats.enviados) == (6, 6)
    assert _status(conn, ids) == {"enviado": 6}
    st = _stats(mcp)
    assert (st["accepted"], st["duplicates"]) == (6, 2)  # the re-sends of the first two were replays
    first = conn.execute(
        "SELECT message_id, tentativas FROM disparos WHERE disparo_id = %s", (ids[0],)
    ).fetchone()
    assert first["tentativas"] == 2
    assert first["message_id"] == _messages(mcp, idempotency_key=str(ids[0]))[0]["messageId"]


def test_retryable_failure_schedules_backoff_then_dlq_then_redrive(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 4, max_tentativas=2)
    _configure(mcp, rate_5xx=1.0)
    t0 = datetime.now(UTC)
    s1 = sender.send_due(database_url, settings=_settings(mcp))
    assert (s1.enviados, s1.reenvios, s1.falhas) == (0, 4, 0)
    rows = conn.execute(
        "SELECT status, tentativas, data_agendado, mensagem_erro FROM disparos WHERE disparo_id = ANY(%s)",
        (ids,),
    ).fetchall()
    for r in rows:  # attempt 1 failed: the next one no earlier than 1 s after it (jitter only adds ≤ 20 %)
        assert (r["status"], r["tentativas"]) == ("pendente", 1)
        assert (
            t0 + timedelta(seconds=1.0) <= r["data_agendado"] <= datetime.now(UTC) + timedelta(seconds=1.25)
        )
        assert "503" in r["mensagem_erro"]
    assert sender.send_due(database_url, settings=_settings(mcp)).enviados == 0  # not due yet: nothing sent
    _make_due(conn, ids)
    s2 = sender.send_due(database_url, settings=_settings(mcp))
    assert (s2.falhas, s2.dlq, s2.reenvios) == (4, 4, 0)
    assert _status(conn, ids) == {"erro": 4}
    dlq = list_dlq(conn, tenant["id"])
    assert len(dlq) == 4 and all(d["tentativas"] == 2 and "2 tentativas" in d["ultimo_erro"] for d in dlq)
    assert list_dlq(conn, tenant["id"], since=datetime.now(UTC) + timedelta(minutes=1)) == []
    events = conn.execute("SELECT payload FROM eventos_outbox WHERE entidade_id = ANY(%s)", (ids,)).fetchall()
    assert sorted(e["payload"]["status"] for e in events) == ["erro"] * 4

    assert redrive(conn, tenant_id=tenant["id"], disparo_ids=ids[:3]).as_dict() == {
        "redriven": 3,
        "skipped": 0,
    }
    assert redrive(conn, tenant_id=tenant["id"], disparo_ids=ids[:3]).redriven == 0  # already done
    assert len(list_dlq(conn, tenant["id"])) == 1
    _configure(mcp, rate_5xx=0.0)
    s3 = sender.send_due(database_url, settings=_settings(mcp))
    assert s3.enviados == 3
    assert _status(conn, ids) == {"enviado": 3, "erro": 1}
    assert (
        conn.execute("SELECT tentativas FROM disparos WHERE disparo_id = %s", (ids[0],)).fetchone()[
            "tentativas"
        ]
        == 1
    )


def test_redrive_sends_under_a_key_of_its_own(conn, database_url, tenant, mcp) -> None:
    """An idempotent MCP answers a repeated key with its first answer: a redrive under the first key would
    get the first attempt's permanent failure back without anything being sent."""
    ids = seed_due(conn, tenant["id"], 2)
    _configure(mcp, rate_failed=1.0)
    assert sender.send_due(database_url, settings=_settings(mcp)).dlq == 2
    _configure(mcp, rate_failed=0.0)
    for round_ in (1, 2):
        assert redrive(conn, tenant_id=tenant["id"], disparo_ids=ids[:1]).redriven == 1
        assert sender.send_due(database_url, settings=_settings(mcp)).enviados == 1
        assert _status(conn, ids) == {"enviado": 1, "erro": 1}
        sent = _messages(mcp, idempotency_key=f"{ids[0]}:r{round_}")
        assert len(sent) == 1 and sent[0]["status"] == "sent"
        row = conn.execute(
            "SELECT message_id, reenvios_dlq FROM disparos WHERE disparo_id = %s", (ids[0],)
        ).fetchone()
        assert row == {"message_id": sent[0]["messageId"], "reenvios_dlq": round_}
        if round_ == 1:  # fail it again (by hand) to redrive it a second time
            conn.execute("UPDATE disparos SET status = 'erro' WHERE disparo_id = %s", (ids[0],))
            conn.execute(
                "INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, ultimo_erro, tentativas) "
                "VALUES (%s, %s, 'whatsapp', '{}', 'x', 1)",
                (tenant["id"], ids[0]),
            )
    assert len(_messages(mcp, idempotency_key=str(ids[0]))) == 1  # the first key: the first (failed) answer


def test_429_honours_retry_after(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 2)
    _configure(mcp, rate_429=1.0, retry_after_s=20)
    t0 = datetime.now(UTC)
    assert sender.send_due(database_url, settings=_settings(mcp)).reenvios == 2
    for r in conn.execute("SELECT data_agendado FROM disparos WHERE disparo_id = ANY(%s)", (ids,)).fetchall():
        assert r["data_agendado"] >= t0 + timedelta(seconds=19.9)


@pytest.mark.parametrize("changes", [{"rate_4xx": 1.0}, {"rate_failed": 1.0}])
def test_permanent_failure_goes_straight_to_dlq(conn, database_url, tenant, mcp, changes) -> None:
    ids = seed_due(conn, tenant["id"], 3)
    _configure(mcp, **changes)
    stats = sender.send_due(database_url, settings=_settings(mcp))
    assert (stats.falhas, stats.dlq, stats.reenvios) == (3, 3, 0)
    rows = conn.execute(
        "SELECT tentativas, mensagem_erro FROM disparos WHERE disparo_id = ANY(%s)", (ids,)
    ).fetchall()
    assert all(r["tentativas"] == 1 and r["mensagem_erro"] for r in rows)


def test_timeout_is_retried(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 2)
    _configure(mcp, rate_timeout=1.0, timeout_s=1.0)
    stats = sender.send_due(database_url, settings=_settings(mcp), timeout=0.2)
    assert stats.reenvios == 2
    assert all("timeout" in r["mensagem_erro"] for r in conn.execute(
        "SELECT mensagem_erro FROM disparos WHERE disparo_id = ANY(%s)", (ids,)).fetchall())  # fmt: skip


def test_optout_blocks_without_sending(conn, database_url, tenant, other_tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 3)
    other = seed_due(conn, other_tenant["id"], 1)
    destino = conn.execute("SELECT destino FROM disparos WHERE disparo_id = %s", (ids[0],)).fetchone()[
        "destino"
    ]
    # opt-out after the disparo was created; the other tenant's identical number is not affected
    conn.execute(
        "INSERT INTO optouts (tenant_id, canal, destino) VALUES (%s, 'whatsapp', %s)", (tenant["id"], destino)
    )
    stats = sender.send_due(database_url, settings=_settings(mcp))
    assert (stats.bloqueados, stats.enviados) == (1, 3)
    row = conn.execute(
        "SELECT status, tentativas, mensagem_erro FROM disparos WHERE disparo_id = %s", (ids[0],)
    ).fetchone()
    assert row["status"] == "bloqueado" and row["tentativas"] == 0 and "opt-out" in row["mensagem_erro"]
    assert _status(conn, other) == {"enviado": 1}
    assert [m["to"] for m in _messages(mcp, to=destino)] == [destino]  # only the other tenant's
    ev = conn.execute("SELECT payload FROM eventos_outbox WHERE entidade_id = %s", (ids[0],)).fetchone()
    assert ev["payload"]["status"] == "bloqueado"


def test_send_window_moves_due_rows_to_next_opening(conn, database_url, make_tenant, mcp) -> None:
    t = make_tenant("janela")
    update_tenant(conn, "janela", janela_envio={"seg": [["08:00", "20:00"]], "sab": [["08:00", "14:00"]]})
    ids = seed_due(conn, t["id"], 5)
    sunday = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # Sunday 12:00 in São Paulo
    stats = sender.send_due(database_url, settings=_settings(mcp), now=sunday)
    assert (stats.adiados, stats.enviados) == (5, 0)
    assert _stats(mcp)["requests"] == 0
    when = {r["data_agendado"] for r in conn.execute(
        "SELECT data_agendado FROM disparos WHERE disparo_id = ANY(%s)", (ids,)).fetchall()}  # fmt: skip
    assert when == {datetime(2026, 11, 30, 11, 0, tzinfo=UTC)}  # Monday 08:00 local
    _make_due(conn, ids)
    monday = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # Monday 10:00 local: open
    assert sender.send_due(database_url, settings=_settings(mcp), now=monday).enviados == 5

    # a window that never opens: due rows are looked at again a day later (the sensor does not spin)
    update_tenant(conn, "janela", janela_envio={})
    fechado = seed_due(conn, t["id"], 2, prefix="F")
    assert sender.send_due(database_url, settings=_settings(mcp), now=monday).adiados == 2
    later = conn.execute(
        "SELECT min(data_agendado) AS m FROM disparos WHERE disparo_id = ANY(%s)", (fechado,)
    )
    assert later.fetchone()["m"] > datetime.now(UTC) + timedelta(hours=23)
    assert sender.count_due(conn) == []


def test_rate_limit_paces_sends_even_across_two_workers(conn, database_url, tenant, mcp) -> None:
    update_tenant(conn, "acme", rate_limit_whatsapp=20)
    seed_due(conn, tenant["id"], 50)
    t0 = time.monotonic()
    threads = [
        threading.Thread(target=sender.send_due, args=(database_url,), kwargs={"settings": _settings(mcp)})
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert _stats(mcp)["accepted"] == 50
    assert elapsed >= (50 - 20) / 20
    stamps = sorted(m["received_at"] for m in _messages(mcp))
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps]
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= 20 + 3  # limit per second plus the small burst


def test_disparo_ids_restrict_the_drain(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 5)
    stats = sender.send_due(database_url, settings=_settings(mcp), disparo_ids=ids[:2])
    assert stats.enviados == 2
    assert _status(conn, ids) == {"enviado": 2, "pendente": 3}


def test_budget_end_releases_unsent_claims(conn, database_url, tenant, mcp) -> None:
    update_tenant(conn, "acme", rate_limit_whatsapp=5)
    ids = seed_due(conn, tenant["id"], 30)
    stats = sender.send_due(database_url, settings=_settings(mcp), time_budget_s=0.6)
    assert 1 <= stats.enviados <= 6 and stats.liberados >= 15  # claimed (≤ 5 s of its limit), then let go
    rows = conn.execute(
        "SELECT status, tentativas, lease_owner FROM disparos WHERE disparo_id = ANY(%s)", (ids,)
    ).fetchall()
    pend = [r for r in rows if r["status"] == "pendente"]
    assert len(pend) == 30 - stats.enviados and all(
        r["tentativas"] == 0 and r["lease_owner"] is None for r in pend
    )


def test_missing_endpoint_is_a_clear_error(database_url, monkeypatch) -> None:
    from pipelines.core.common.errors import ConfigError

    monkeypatch.delenv("MCP_WHATSAPP_ENDPOINT", raising=False)
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="MCP_WHATSAPP_ENDPOINT"):
        sender.send_due(database_url, canal="whatsapp")
    with pytest.raises(ConfigError, match="nenhum endpoint"):
        sender.send_due(database_url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", "localhost:8100")
    with pytest.raises(ConfigError, match="http://"):
        sender.send_due(database_url)


def test_cli_send_and_dlq(conn, tenant, mcp, cli) -> None:
    ids = seed_due(conn, tenant["id"], 3, max_tentativas=1)
    _configure(mcp, rate_4xx=1.0)
    code, out, _ = cli("send", "--once", "--tenant", "acme", "--json")
    assert code == 0 and json.loads(out)["dlq"] == 3
    code, out, _ = cli("dlq", "list", "--tenant", "acme", "--json")
    assert code == 0 and {r["disparo_id"] for r in json.loads(out)} == {str(i) for i in ids}
    code, out, _ = cli("dlq", "redrive", "--tenant", "acme", "--id", str(ids[0]))
    assert code == 0 and out.startswith("1 ")
    _configure(mcp, rate_4xx=0.0)
    code, out, _ = cli("send", "--once", "--canal", "whatsapp")
    assert code == 0 and out.startswith("enviados 1 ")
    code, _, err = cli("dlq", "redrive", "--since", "ontem")
    assert code == 2 and err.startswith("erro:")
    code, _, err = cli("send", "--once", "--tenant", "nao-existe")
    assert code == 2 and "nao-existe" in err
