"""Crash tests of the send worker (`disparo-agenda worker` processes, the MCP simulator over real HTTP):
kill -9 mid-batch three times, and the PostgreSQL server restarted under a running worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from bench.send_data import seed_due
from pipelines.core.common.db import stop_embedded
from pipelines.core.common.migrate import migrate
from pipelines.core.tenancy.tenants import create_tenant, update_tenant

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 20
STALE_S = 2.0


def _worker(database_url: str, sim_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_WHATSAPP_ENDPOINT": sim_url}
    env.pop("MCP_EMAIL_ENDPOINT", None)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "disparo-agenda"), "worker", "--concurrency", str(CONCURRENCY),
         "--batch-size", "200", "--sem-lembretes", "--heartbeat-parado-s", str(STALE_S)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _sent(conn, ids) -> int:
    return conn.execute(
        "SELECT count(*) AS n FROM disparos WHERE disparo_id = ANY(%s) AND status = 'enviado'", (ids,)
    ).fetchone()["n"]


def _wait_sent(conn, ids, at_least: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _sent(conn, ids) < at_least:
        assert time.monotonic() < deadline, f"só {_sent(conn, ids)} de {at_least} enviados a tempo"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    return err


def _check_delivery(conn, sim_url: str, ids) -> dict:
    """Every disparo enviado with the message the simulator accepted under its own key; nothing else sent."""
    rows = conn.execute(
        "SELECT disparo_id::text AS id, status, message_id FROM disparos WHERE disparo_id = ANY(%s)", (ids,)
    ).fetchall()
    assert {r["status"] for r in rows} == {"enviado"}, "perdidos ou presos"
    messages = httpx.get(sim_url + "/sim/messages", params={"limit": 100000}).json()["items"]
    by_key = {m["idempotency_key"]: m["messageId"] for m in messages}
    assert len(messages) == len(ids) == len(by_key)  # one accepted message per disparo
    assert {r["id"]: r["message_id"] for r in rows} == by_key  # and it is the one recorded
    attempts = httpx.get(sim_url + "/sim/attempts").json()["items"]
    assert {a["idempotency_key"] for a in attempts} == set(by_key)  # re-sends only ever with the same key
    return {"attempts": len(attempts), "resent": len(attempts) - len(ids)}


@pytest.mark.timeout(120)
def test_worker_killed_three_times_mid_batch_loses_nothing(conn, database_url, tenant, sim) -> None:
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    httpx.post(sim.url + "/sim/config", json={"latency_ms": 5, "latency_jitter_ms": 10}).raise_for_status()
    update_tenant(conn, tenant["slug"], rate_limit_whatsapp=100_000)
    ids = seed_due(conn, tenant["id"], 3000)
    procs = []
    try:
        for at_least in (400, 1200, 2000):
            proc = _worker(database_url, sim.url)
            procs.append(proc)
            _wait_sent(conn, ids, at_least)
            proc.send_signal(signal.SIGKILL)  # mid-batch: sends in flight, results not yet written
            proc.wait(10)
        survivor = _worker(database_url, sim.url)  # reclaims the dead ones' leases once stale
        procs.append(survivor)
        _wait_sent(conn, ids, len(ids))
        _stop(survivor)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    seen = _check_delivery(conn, sim.url, ids)
    # at most `concurrency` sends are unrecorded when a worker dies: the most each kill can make re-send
    assert seen["resent"] <= 3 * CONCURRENCY, seen
    assert conn.execute("SELECT count(*) AS n FROM envio_workers").fetchone()["n"] == 0


@pytest.fixture
def own_server():
    """A PostgreSQL server of this test's own (restarting the shared test server would disturb others),
    under .data/ like the shared one (pgserver's system user must reach the folder)."""
    import shutil
    import tempfile

    import pgserver

    (ROOT / ".data").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="pgcrash-", dir=ROOT / ".data"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    try:
        url = server.get_uri()
        migrate(url)
        yield server, url
    finally:
        server.cleanup()
        stop_embedded(folder)  # pgserver's cleanup misses the postmaster started by the test's restart
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(120)
def test_worker_recovers_by_itself_when_postgres_restarts(own_server, sim) -> None:
    import pgserver

    server, url = own_server
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    httpx.post(sim.url + "/sim/config", json={"latency_ms": 20}).raise_for_status()
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        tenant, _ = create_tenant(conn, "reinicio")
        update_tenant(conn, "reinicio", rate_limit_whatsapp=300)
        ids = seed_due(conn, tenant.id, 600)
        proc = _worker(url, sim.url)
        try:
            _wait_sent(conn, ids, 100)
            assert _sent(conn, ids) < len(ids)  # the restart comes mid-work
        except BaseException:
            proc.kill()
            raise
    try:
        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
        deadline = time.monotonic() + 60
        while True:  # the test's own connection waits for the server like the worker does
            try:
                conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with conn:
            try:
                _wait_sent(conn, ids, len(ids))
            except AssertionError as exc:
                proc.kill()
                raise AssertionError(f"{exc}\n{proc.communicate(timeout=10)[1]}") from None
            err = _stop(proc)
            assert "banco indisponível" in err and "Traceback" not in err, (
                err
            )  # it saw the restart, recovered
            _check_delivery(conn, sim.url, ids)
    finally:
        if proc.poll() is None:
            proc.kill()
