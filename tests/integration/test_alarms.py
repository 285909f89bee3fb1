"""The seed's alarms: an injected 30 % MCP failure rate over two 5-minute periods opens exactly one
DisparoHighFailureRate incident, notified once to the tenant's team through the MCP, and its clearing is
notified once more; a failed ingest job opens IngestJobFailed. Time passes by moving the events back."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.settings import Settings
from pipelines.core.observability import alarms
from pipelines.core.send import engine as sender
from pipelines.core.tenancy.tenants import update_tenant
from pipelines.resources import PostgresResource, SettingsResource

TEAM = "ops@acme.example"


@pytest.fixture
def mcp(sim):
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    return sim


def _settings(sim) -> Settings:
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url)
    )


def _sim(sim, **config) -> None:
    httpx.post(sim.url + "/sim/config", json=config).raise_for_status()


def _team_messages(sim) -> list[dict]:
    items = httpx.get(sim.url + "/sim/messages", params={"limit": 100000, "canal": "email"}).json()["items"]
    return [m for m in items if m["to"] == TEAM and m["accepted"]]


def _send_batch(conn, database_url, tenant, sim, prefix: str, n: int = 40):
    seed_due(conn, tenant["id"], n, prefix=prefix, max_tentativas=1)
    return sender.send_due(database_url, settings=_settings(sim), canal="whatsapp", time_budget_s=30)


def _five_minutes_pass(conn) -> None:
    conn.execute("UPDATE eventos_outbox SET created_at = created_at - interval '5 minutes'")
    conn.execute("UPDATE ingest_jobs SET concluido_em = concluido_em - interval '5 minutes'")


def test_injected_failure_rate_notifies_once_and_clears_once(conn, database_url, tenant, mcp) -> None:
    update_tenant(conn, tenant["slug"], equipe_canal="email", equipe_destino=TEAM)
    settings = _settings(mcp)
    _sim(mcp, rate_failed=0.3, seed=7)
    first = _send_batch(conn, database_url, tenant, mcp, "A")
    assert first.falhas > 4  # ~30 % of 40
    assert alarms.evaluate(conn).abertos == []  # one bad period is not an alarm yet
    _five_minutes_pass(conn)
    _send_batch(conn, database_url, tenant, mcp, "B")
    _sim(mcp, rate_failed=0.0)  # the team's e-mail must go through

    opened = alarms.evaluate(conn)
    assert [(i["alarme"], i["canal"]) for i in opened.abertos] == [("DisparoHighFailureRate", "whatsapp")]
    assert all(p["taxa_pct"] > 10 for p in opened.abertos[0]["detalhes"]["periodos"])
    assert alarms.notify(conn, settings).enviadas == ["DisparoHighFailureRate acme/whatsapp (abertura)"]
    for _ in range(3):  # later evaluations inside the incident: no new incident, no new notification
        assert alarms.evaluate(conn).abertos == []
        assert alarms.notify(conn, settings).enviadas == []
    (alarm,) = _team_messages(mcp)
    assert alarm["subject"].startswith("[ALARME] DisparoHighFailureRate")
    assert "dois períodos seguidos" in alarm["body"]

    _five_minutes_pass(conn)
    _send_batch(conn, database_url, tenant, mcp, "C")  # healthy again
    cleared = alarms.evaluate(conn)
    assert [i["alarme"] for i in cleared.fechados] == ["DisparoHighFailureRate"] and cleared.ativos == 0
    assert alarms.notify(conn, settings).enviadas == ["DisparoHighFailureRate acme/whatsapp (fechamento)"]
    assert alarms.evaluate(conn).fechados == [] and alarms.notify(conn, settings).enviadas == []
    subjects = [m["subject"] for m in _team_messages(mcp)]
    assert len(subjects) == 2 and subjects[1].startswith("[OK] DisparoHighFailureRate")
    row = conn.execute("SELECT * FROM alarmes").fetchone()
    assert row["fechado_em"] and row["notificado_em"] and row["notificado_fim_em"]


def test_few_sends_or_one_bad_period_do_not_alarm(conn, database_url, tenant, mcp) -> None:
    _sim(mcp, rate_failed=1.0)
    _send_batch(conn, database_url, tenant, mcp, "A", n=alarms.MIN_SENDS - 1)
    _five_minutes_pass(conn)
    _send_batch(conn, database_url, tenant, mcp, "B", n=alarms.MIN_SENDS - 1)
    assert alarms.evaluate(conn).abertos == []


def test_ingest_job_failed_and_a_team_without_channel(conn, database_url, tenant, other_tenant, mcp) -> None:
    for t in (tenant, other_tenant):
        conn.execute(
            "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status, mensagem_erro, concluido_em) "
            "VALUES (%s, 'quebrada.xlsx', 'erro', 'arquivo corrompido', now())",
            (t["id"],),
        )
    update_tenant(conn, tenant["slug"], equipe_canal="email", equipe_destino=TEAM)
    resources = {
        "postgres": PostgresResource(database_url=database_url),
        "settings": SettingsResource(mcp_email_endpoint=mcp.url, mcp_whatsapp_endpoint=mcp.url),
    }
    from sensors.observability import alarmes as alarm_sensor

    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        message = alarm_sensor(ctx).skip_reason.skip_message
        assert "aberto IngestJobFailed acme" in message and "aberto IngestJobFailed outra" in message
        assert "avisos enviados: IngestJobFailed acme (abertura)" in message
        assert "IngestJobFailed outra (abertura): tenant sem canal da equipe" in message
        (sent,) = _team_messages(mcp)
        assert "quebrada.xlsx" in sent["body"] and "arquivo corrompido" in sent["body"]

        _five_minutes_pass(conn)
        message = alarm_sensor(ctx).skip_reason.skip_message
        assert "normalizado IngestJobFailed acme" in message
        assert "IngestJobFailed acme (fechamento)" in message
    assert len(_team_messages(mcp)) == 2
    other = conn.execute("SELECT * FROM alarmes WHERE tenant_id = %s", (other_tenant["id"],)).fetchone()
    assert other["notificado_em"] is None and "canal da equipe" in other["ultimo_erro"]
