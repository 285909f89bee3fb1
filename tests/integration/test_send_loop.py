"""The long-lived send loop (pipelines/core/send/loop.py) and `disparo-agenda worker`, against real
PostgreSQL and the MCP simulator over real HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.settings import Settings
from pipelines.core.send.loop import LoopOptions, SendLoop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mcp(sim, monkeypatch):
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    httpx.post(sim.url + "/sim/config", json={"rate_5xx": 0.0, "latency_ms": 0}).raise_for_status()
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", sim.url)
    return sim


def _settings(sim) -> Settings:
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url)
    )


class _Running:
    """A SendLoop on a thread of its own, stopped (like SIGTERM) on exit."""

    def __init__(self, url: str, settings: Settings, **options) -> None:
        self.loop = SendLoop(url, settings, LoopOptions(**options))
        self.aloop = asyncio.new_event_loop()
        self.result = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = self.aloop.run_until_complete(self.loop.run())

    def __enter__(self) -> _Running:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.aloop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        assert not self.thread.is_alive(), "o loop não parou"


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condição não atingida a tempo")


def _counts(conn, ids) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) GROUP BY status", (ids,)
    ).fetchall()
    return {r["status"]: r["n"] for r in rows}


def _attempts(sim, key: str | None = None) -> list[dict]:
    params = {"idempotency_key": key} if key else {}
    return httpx.get(sim.url + "/sim/attempts", params=params).json()["items"]


def test_loop_sends_future_and_new_work_without_being_called_again(conn, database_url, tenant, mcp) -> None:
    later = seed_due(conn, tenant["id"], 3, due_in_s=1.5)
    with _Running(database_url, _settings(mcp)) as running:
        _wait_for(lambda: _counts(conn, later) == {"enviado": 3})
        # a disparo created while the loop sleeps wakes it (NOTIFY) and leaves at once
        new = seed_due(conn, tenant["id"], 2, prefix="N")
        _wait_for(lambda: _counts(conn, new) == {"enviado": 2})
        sent = conn.execute(
            "SELECT data_agendado, data_envio FROM disparos WHERE disparo_id = ANY(%s)", (later,)
        ).fetchall()
        assert all(r["data_envio"] >= r["data_agendado"] for r in sent)  # never before its time
    assert running.result.enviados == 5
    assert conn.execute("SELECT count(*) AS n FROM envio_workers").fetchone()["n"] == 0  # clean exit


def test_retries_run_in_the_loop_on_the_seeds_clock_then_dlq(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 2)
    httpx.post(mcp.url + "/sim/config", json={"rate_5xx": 1.0}).raise_for_status()
    with _Running(database_url, _settings(mcp)):
        _wait_for(lambda: _counts(conn, ids) == {"erro": 2})
    for did in ids:
        times = [a["t"] for a in _attempts(mcp, str(did))]
        assert len(times) == 3  # 3 attempts, then the DLQ
        assert times[1] - times[0] >= 1.0 and times[2] - times[1] >= 2.0  # never earlier than the seed
    dlq = conn.execute("SELECT count(*) AS n FROM disparos_dlq WHERE disparo_id = ANY(%s)", (ids,)).fetchone()
    assert dlq["n"] == 2


def test_a_dead_workers_leases_are_reclaimed_once_its_heartbeat_is_stale(conn, database_url, tenant, mcp):
    ids = seed_due(conn, tenant["id"], 4)
    # a worker that claimed them and died: its heartbeat is 30 s old, its leases still valid for minutes
    conn.execute(
        "INSERT INTO envio_workers (worker_id, papel, canais, lembretes, host, pid, heartbeat_em) "
        "VALUES ('morto', 'worker', '{whatsapp}', true, 'h', 1, now() - interval '30 seconds')"
    )
    conn.execute(
        "UPDATE disparos SET status = 'enviando', tentativas = 1, lease_owner = 'morto', "
        "lease_ate = now() + interval '10 minutes' WHERE disparo_id = ANY(%s)",
        (ids,),
    )
    with _Running(database_url, _settings(mcp), stale_s=3.0) as running:
        _wait_for(lambda: _counts(conn, ids) == {"enviado": 4})
    assert running.result.reassumidos_de_workers_parados == 4
    assert conn.execute("SELECT count(*) AS n FROM envio_workers").fetchone()["n"] == 0
    assert all(len(_attempts(mcp, str(d))) == 1 for d in ids)  # each under its own key, once


def test_reminders_leave_through_the_same_loop(conn, database_url, tenant, mcp, cli) -> None:
    from datetime import UTC, datetime, timedelta

    lead = conn.execute(
        "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome) "
        "VALUES (%s, 'L1', 'f', 'a', 1, 'Ana') RETURNING lead_id",
        (tenant["id"],),
    ).fetchone()["lead_id"]
    when = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    code, _, err = cli(
        "agendamento", "create", str(lead), "--tenant", tenant["slug"], "--tipo", "callback",
        "--canal", "telefone", "--data", when, "--responsavel", "ana@acme.com.br", "--lembrete-minutos", "15",
    )  # fmt: skip
    assert code == 0, err
    with _Running(database_url, _settings(mcp), disparos=False) as running:
        _wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) AS n FROM agendamento_lembretes WHERE status = 'enviado'"
                ).fetchone()["n"]
                == 1
            )
        )
    assert running.result.lembretes_enviados == 1


def test_worker_cli_stops_cleanly_on_sigterm(conn, database_url, tenant, mcp) -> None:
    ids = seed_due(conn, tenant["id"], 20)
    httpx.post(mcp.url + "/sim/config", json={"latency_ms": 300}).raise_for_status()  # sends in flight
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_WHATSAPP_ENDPOINT": mcp.url}
    env.pop("MCP_EMAIL_ENDPOINT", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "disparo-agenda"), "worker", "--concurrency", "4", "--json"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(lambda: _counts(conn, ids).get("enviado", 0) >= 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    counts = _counts(conn, ids)
    assert "enviando" not in counts and counts.get("enviado", 0) >= 1  # in flight finished or released
    sent = {a["idempotency_key"] for a in _attempts(mcp)}
    enviados = conn.execute(
        "SELECT disparo_id::text AS id FROM disparos WHERE disparo_id = ANY(%s) AND status = 'enviado'",
        (ids,),
    ).fetchall()
    assert {r["id"] for r in enviados} == sent  # everything sent was recorded, nothing else was sent
    assert conn.execute("SELECT count(*) AS n FROM envio_workers").fetchone()["n"] == 0
    assert '"enviados"' in out


def test_worker_without_endpoint_is_one_error_line(database_url, monkeypatch, cli) -> None:
    monkeypatch.delenv("MCP_WHATSAPP_ENDPOINT", raising=False)
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT", raising=False)
    code, _, err = cli("worker", "--canal", "email")
    assert code != 0 and err.strip().startswith("erro:") and len(err.strip().splitlines()) == 1
