"""Outbox events reach each tenant's webhook over real HTTP: signed with the tenant's secret (the receipts'
scheme), batched, in order, at least once with a stable id, retried with backoff after failures, and
never sent to another tenant's URL; ingest jobs publish job_created / job_completed by themselves."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from psycopg.types.json import Jsonb

from pipelines.core.common.signing import verify
from pipelines.core.observability import outbox
from pipelines.core.tenancy.tenants import get_webhook_secret, update_tenant
from pipelines.resources import PostgresResource


class Receiver:
    """A webhook on a free port: records every request; answers `fail` statuses first, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.fail.pop(0) if receiver.fail else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def ids(self, path: str | None = None) -> list[int]:
        return [
            e["id"]
            for r in self.requests
            if path is None or r["path"] == path
            for e in json.loads(r["body"])["eventos"]
        ]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def _event(conn, tenant_id, n: int = 1) -> list[int]:
    return [
        conn.execute(
            "INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload) "
            "VALUES (%s, 'disparo-agenda.disparo.completed', gen_random_uuid(), %s) RETURNING id",
            (tenant_id, Jsonb({"status": "enviado", "n": i})),
        ).fetchone()["id"]
        for i in range(n)
    ]


def test_ingest_jobs_publish_created_and_completed(conn, tenant) -> None:
    job = conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, origem) VALUES (%s, 'a.xlsx', 'cli') RETURNING job_id",
        (tenant["id"],),
    ).fetchone()["job_id"]
    conn.execute("UPDATE ingest_jobs SET status = 'processando' WHERE job_id = %s", (job,))
    conn.execute("UPDATE ingest_jobs SET status = 'concluido', leads_criados = 4 WHERE job_id = %s", (job,))
    conn.execute("UPDATE ingest_jobs SET updated_at = now() WHERE job_id = %s", (job,))  # no new event
    rows = conn.execute("SELECT tipo, payload FROM eventos_outbox WHERE entidade_id = %s ORDER BY id", (job,))
    got = [(r["tipo"], r["payload"].get("status"), r["payload"].get("leads_criados")) for r in rows]
    assert got == [
        ("disparo-agenda.ingest.job_created", None, None),
        ("disparo-agenda.ingest.job_completed", "concluido", 4),
    ]


def test_events_are_signed_batched_and_marked_published(conn, tenant, other_tenant, receiver) -> None:
    update_tenant(conn, tenant["slug"], webhook_url=receiver.url("/acme"))
    update_tenant(conn, other_tenant["slug"], webhook_url=receiver.url("/outro"))
    mine = _event(conn, tenant["id"], 7)
    theirs = _event(conn, other_tenant["id"], 2)

    stats = outbox.publish_due(conn, batch=3)
    assert stats.entregues == 9 and stats.falhas == 0
    assert receiver.ids("/acme") == mine and receiver.ids("/outro") == theirs  # in order, each its own
    assert [len(json.loads(r["body"])["eventos"]) for r in receiver.requests if r["path"] == "/acme"] == [
        3,
        3,
        1,
    ]
    secret = get_webhook_secret(conn, tenant["id"])
    for r in (r for r in receiver.requests if r["path"] == "/acme"):
        ts = int(r["headers"][outbox.TIMESTAMP_HEADER])
        assert verify(secret, r["body"], r["headers"][outbox.SIGNATURE_HEADER], ts)
        assert not verify(
            get_webhook_secret(conn, other_tenant["id"]), r["body"], r["headers"][outbox.SIGNATURE_HEADER], ts
        )
        assert {e["tenant_id"] for e in json.loads(r["body"])["eventos"]} == {str(tenant["id"])}
    left = conn.execute("SELECT count(*) AS n FROM eventos_outbox WHERE publicado_em IS NULL").fetchone()["n"]
    assert left == 0
    assert outbox.publish_due(conn).requisicoes == 0  # nothing is sent twice once acknowledged


def test_failures_back_off_and_retry_with_the_same_ids(conn, tenant, other_tenant, receiver) -> None:
    update_tenant(conn, tenant["slug"], webhook_url=receiver.url("/acme"))
    ids = _event(conn, tenant["id"], 2)
    _event(conn, other_tenant["id"], 1)  # no webhook: kept, never sent
    receiver.fail = [500, 503]

    first = outbox.publish_due(conn)
    assert first.entregues == 0 and first.falhas == 2 and "HTTP 500" in first.erros[0]
    rows = conn.execute(
        "SELECT tentativas, ultimo_erro, proxima_tentativa_em > now() AS espera FROM eventos_outbox "
        "WHERE id = ANY(%s)",
        (ids,),
    ).fetchall()
    assert all(r["tentativas"] == 1 and r["ultimo_erro"] == "HTTP 500" and r["espera"] for r in rows)
    ids.append(_event(conn, tenant["id"])[0])  # a newer event waits behind the failed ones (order kept)
    assert outbox.publish_due(conn).requisicoes == 0  # still backing off: nothing sent

    def time_passes() -> None:
        conn.execute("UPDATE eventos_outbox SET proxima_tentativa_em = now() - interval '1 second' "
                     "WHERE proxima_tentativa_em IS NOT NULL")  # fmt: skip

    time_passes()
    second = outbox.publish_due(conn)
    assert second.falhas == 3 and "HTTP 503" in second.erros[0]
    backoff = conn.execute(
        "SELECT extract(epoch FROM proxima_tentativa_em - now()) AS s FROM eventos_outbox WHERE id = %s",
        (ids[0],),
    ).fetchone()["s"]
    assert backoff > outbox.BACKOFF_BASE_S  # the second attempt waits longer than the first
    time_passes()
    third = outbox.publish_due(conn)
    assert third.entregues == 3
    bodies = [json.loads(r["body"])["eventos"] for r in receiver.requests]
    assert [[e["id"] for e in b] for b in bodies] == [ids[:2], ids, ids]  # same ids on every attempt
    assert [e["tentativa"] for e in bodies[2]] == [3, 3, 2]
    published = conn.execute(
        "SELECT tenant_id, publicado_em IS NOT NULL AS p FROM eventos_outbox ORDER BY id"
    ).fetchall()
    assert [r["p"] for r in published if r["tenant_id"] == tenant["id"]] == [True] * 3
    assert [r["p"] for r in published if r["tenant_id"] == other_tenant["id"]] == [False]


def test_unreachable_webhook_and_the_sensor(conn, database_url, tenant, receiver) -> None:
    from sensors.observability import publicar_eventos

    update_tenant(conn, tenant["slug"], webhook_url="http://127.0.0.1:9/fechado")
    _event(conn, tenant["id"], 1)
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, resources={"postgres": PostgresResource(database_url=database_url)}
        )
        result = publicar_eventos(ctx)
        assert "ConnectError" in result.skip_reason.skip_message
        update_tenant(conn, tenant["slug"], webhook_url=receiver.url("/acme"))
        conn.execute("UPDATE eventos_outbox SET proxima_tentativa_em = NULL")
        result = publicar_eventos(ctx)
    assert result.skip_reason.skip_message.startswith("1 eventos entregues")
    assert len(receiver.ids()) == 1


def test_tenant_set_webhook_url_and_retention(cli, tenant) -> None:
    code, out, _ = cli("tenant", "set", tenant["slug"], "--webhook-url", "https://hooks.acme.example/eventos",
                       "--retencao-dias", "30")  # fmt: skip
    assert code == 0
    shown = json.loads(out)
    assert shown["webhook_url"] == "https://hooks.acme.example/eventos" and shown["retencao_dias"] == 30
    for bad in (
        ["--webhook-url", "ftp://x.example"],
        ["--webhook-url", "https://"],
        ["--retencao-dias", "0"],
    ):
        code, out, err = cli("tenant", "set", tenant["slug"], *bad)
        assert code != 0 and err.startswith("erro: ") and len(err.strip().splitlines()) == 1
    code, out, _ = cli("tenant", "set", tenant["slug"], "--webhook-url", "")
    assert code == 0 and json.loads(out)["webhook_url"] is None
