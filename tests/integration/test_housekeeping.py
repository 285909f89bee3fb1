"""The daily housekeeping: per-tenant retention of stored sheets (shared content kept while any tenant
still needs it), ingest rejects and outbox events; the DLQ digest to each team once a day over the MCP
simulator; the Dagster job and its schedule."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.filestore import store_file
from pipelines.core.common.settings import Settings
from pipelines.core.observability.housekeeping import run_housekeeping
from pipelines.core.send import engine as sender
from pipelines.core.tenancy.tenants import update_tenant
from pipelines.resources import PostgresResource, SettingsResource

TEAM = "ops@acme.example"


@pytest.fixture
def settings(sim, tmp_path, monkeypatch) -> Settings:
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url)
    )


def _job(conn, tenant, path: Path | None, days_ago: int, rejects: int = 2) -> str:
    job = conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, arquivo_path, status, concluido_em) "
        "VALUES (%s, 'x.xlsx', %s, 'concluido', now() - make_interval(days => %s)) RETURNING job_id",
        (tenant["id"], str(path) if path else None, days_ago),
    ).fetchone()["job_id"]
    conn.execute(
        "INSERT INTO ingest_rejeicoes (tenant_id, job_id, linha, motivo) "
        "SELECT %s, %s, i, 'nome ausente' FROM generate_series(1, %s) i",
        (tenant["id"], job, rejects),
    )
    return job


def _event(conn, tenant, days_ago: int) -> int:
    return conn.execute(
        "INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, created_at) "
        "VALUES (%s, 'x', gen_random_uuid(), now() - make_interval(days => %s)) RETURNING id",
        (tenant["id"], days_ago),
    ).fetchone()["id"]


def test_retention_per_tenant(conn, tenant, other_tenant, settings, tmp_path) -> None:
    update_tenant(conn, tenant["slug"], retencao_dias=30)  # the other keeps the default 90
    only_acme, _ = store_file(settings, b"acme antiga", "a.csv")
    only_other, _ = store_file(settings, b"outra antiga", "b.csv")
    shared, _ = store_file(settings, b"mesmo conteudo", "c.csv")
    recent, _ = store_file(settings, b"acme recente", "d.csv")
    outside = tmp_path / "fora.csv"
    outside.write_text("não é do armazenamento")
    old_acme = _job(conn, tenant, only_acme, 40)
    _job(conn, tenant, shared, 40)
    _job(conn, other_tenant, shared, 40)  # still within 90 days: the shared file stays
    old_other = _job(conn, other_tenant, only_other, 40)
    new_acme = _job(conn, tenant, recent, 5)
    _job(conn, tenant, outside, 400)
    gone_event, kept_events = (
        _event(conn, tenant, 31),
        [_event(conn, tenant, 29), _event(conn, other_tenant, 31)],
    )

    stats = run_housekeeping(conn, settings, digest=False)
    assert not only_acme.exists() and shared.exists() and only_other.exists() and recent.exists()
    assert outside.exists()  # never deletes outside the store
    assert stats.arquivos_removidos == 1 and stats.bytes_liberados == len(b"acme antiga")
    rows = conn.execute("SELECT job_id, count(*) AS n FROM ingest_rejeicoes GROUP BY job_id").fetchall()
    rejects = {r["job_id"]: r["n"] for r in rows}
    assert old_acme not in rejects and rejects[old_other] == 2 and rejects[new_acme] == 2
    job = conn.execute(
        "SELECT arquivo_path, avisos FROM ingest_jobs WHERE job_id = %s", (old_acme,)
    ).fetchone()
    assert job["arquivo_path"] is None
    assert {"arquivo_removido_em", "rejeicoes_removidas_em"} <= set(job["avisos"])
    ids = {r["id"] for r in conn.execute("SELECT id FROM eventos_outbox WHERE tipo = 'x'").fetchall()}
    assert gone_event not in ids and set(kept_events) <= ids
    assert set(stats.lembretes) >= {"expirados", "cancelados"}

    again = run_housekeeping(conn, settings, digest=False)  # nothing left to do
    assert (again.arquivos_removidos, again.rejeicoes_removidas, again.eventos_removidos) == (0, 0, 0)


def _dead_letters(conn, database_url, tenant, sim, settings, n: int, prefix: str) -> None:
    httpx.post(sim.url + "/sim/config", json={"rate_failed": 1.0}).raise_for_status()
    seed_due(conn, tenant["id"], n, prefix=prefix, max_tentativas=1)
    sender.send_due(
        database_url, settings=settings, canal="whatsapp", tenant_id=tenant["id"], time_budget_s=30
    )
    httpx.post(sim.url + "/sim/config", json={"rate_failed": 0.0}).raise_for_status()


def _digests(sim) -> list[dict]:
    items = httpx.get(sim.url + "/sim/messages", params={"limit": 100000, "canal": "email"}).json()["items"]
    return [m for m in items if m["to"] == TEAM and m["accepted"]]


def test_dlq_digest_once_a_day_through_the_job_and_schedule(
    conn, database_url, tenant, other_tenant, settings, sim
) -> None:
    update_tenant(conn, tenant["slug"], equipe_canal="email", equipe_destino=TEAM)
    _dead_letters(conn, database_url, tenant, sim, settings, 3, "A")
    _dead_letters(conn, database_url, other_tenant, sim, settings, 2, "B")  # no team channel
    from pipelines.jobs.housekeeping import limpeza_diaria
    from sensors.observability import limpeza_diaria_schedule

    resources = {
        "postgres": PostgresResource(database_url=database_url),
        "settings": SettingsResource(
            home=str(settings.home), mcp_email_endpoint=sim.url, mcp_whatsapp_endpoint=sim.url
        ),
    }
    with dg.instance_for_test() as instance:
        for _ in range(2):  # a second run the same day does not send again
            result = limpeza_diaria.execute_in_process(resources=resources, instance=instance)
            assert result.success
        meta = result.output_for_node("limpeza")
        (acme,) = [r for r in meta["resumos_dlq"] if r["tenant"] == tenant["slug"]]
        (outra,) = [r for r in meta["resumos_dlq"] if r["tenant"] == other_tenant["slug"]]
        assert acme["pendentes"] == 3 and acme["novos_24h"] == 3 and acme["enviado"]
        assert not outra["enviado"] and "canal da equipe" in outra["erro"]
        (output,) = [e for e in result.all_node_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
        md = output.step_output_data.metadata["resumo_dlq"].value
        assert f"| {tenant['slug']} | 3 | 3 | whatsapp: 3 | enviado |" in md

        ctx = dg.build_schedule_context(instance=instance)
        (request,) = list(limpeza_diaria_schedule.evaluate_tick(ctx).run_requests)
        assert request.job_name in (None, "limpeza_diaria")
    (digest,) = _digests(sim)
    assert digest["subject"].startswith("[DLQ] 3 disparo(s)")
    assert "whatsapp: 3" in digest["body"] and "dlq list --tenant acme" in digest["body"]
