"""GET /metrics: the seed's five metrics with tenant labels, counted from the database, behind the metrics
token (off while DISPARO_AGENDA_METRICS_TOKEN is unset), plus the aggregate gauges."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

from tests.disparos_support import make_lead

TOKEN = "segredo-das-metricas"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _seed(conn, tenant, other_tenant) -> None:
    t, o = tenant["id"], other_tenant["id"]
    for tid, status, origem, criados in ((t, "concluido", "cli", 7), (t, "concluido", "api", 5),
                                         (t, "erro", "api", 0), (o, "concluido", "inbox", 2)):  # fmt: skip
        conn.execute(
            "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status, origem, leads_criados) "
            "VALUES (%s, 'a.xlsx', %s, %s, %s)",
            (tid, status, origem, criados),
        )
    lead = make_lead(conn, t)["lead_id"]
    for status, sent in (("enviado", True), ("confirmado", True), ("erro", True), ("pendente", False)):
        conn.execute(
            "INSERT INTO disparos (tenant_id, lead_id, canal, destino, template, status, data_envio) "
            "VALUES (%s, %s, 'whatsapp', '+5511999990000', 't', %s, CASE WHEN %s THEN now() END)",
            (t, lead, status, sent),
        )
    # last 5 minutes: 3 accepted and 1 final failure on whatsapp (25 %); an older failure does not count
    for status, age in (("enviado", 10), ("enviado", 20), ("enviado", 30), ("erro", 40), ("erro", 900)):
        conn.execute(
            "INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload, created_at) "
            "VALUES (%s, 'disparo-agenda.disparo.completed', gen_random_uuid(), %s, now() - make_interval(secs => %s))",
            (t, Jsonb({"canal": "whatsapp", "status": status}), age),
        )
    conn.execute(
        "INSERT INTO agendamentos (tenant_id, lead_id, tipo, canal, data_agendada) "
        "VALUES (%s, %s, 'callback', 'telefone', now() + interval '1 day')",
        (t, lead),
    )


def test_metrics_need_the_token_and_are_off_without_it(api_client, monkeypatch) -> None:
    monkeypatch.delenv("DISPARO_AGENDA_METRICS_TOKEN", raising=False)
    off = api_client.get("/metrics")
    assert off.status_code == 404 and "DISPARO_AGENDA_METRICS_TOKEN" in off.json()["detail"]
    assert off.headers["content-type"].startswith("application/problem+json")
    monkeypatch.setenv("DISPARO_AGENDA_METRICS_TOKEN", TOKEN)
    assert api_client.get("/metrics").status_code == 401
    assert api_client.get("/metrics", headers={"Authorization": "Bearer outro"}).status_code == 401
    assert api_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401


def test_seed_metrics_with_tenant_and_canal_labels(
    api_client, conn, tenant, other_tenant, monkeypatch
) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_METRICS_TOKEN", TOKEN)
    _seed(conn, tenant, other_tenant)
    r = api_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = _samples(r.text)
    t, o = str(tenant["id"]), str(other_tenant["id"])
    assert got[("IngestJobsCompleted_total", (("status", "concluido"), ("tenant_id", t)))] == 2
    assert got[("IngestJobsCompleted_total", (("status", "erro"), ("tenant_id", t)))] == 1
    assert got[("IngestJobsCompleted_total", (("status", "concluido"), ("tenant_id", o)))] == 1
    assert got[("LeadsCreated_total", (("origem", "cli"), ("tenant_id", t)))] == 7
    assert got[("LeadsCreated_total", (("origem", "api"), ("tenant_id", t)))] == 5
    assert got[("DisparosSent_total", (("canal", "whatsapp"), ("tenant_id", t)))] == 3
    assert got[("DisparosFailedRate", (("canal", "whatsapp"), ("tenant_id", t)))] == 25.0
    key = ("AgendamentosCriados_total", (("canal", "telefone"), ("tenant_id", t), ("tipo", "callback")))
    assert got[key] == 1
    assert got[("disparo_agenda_ingest_jobs", (("status", "concluido"),))] == 3
    assert got[("disparo_agenda_disparos", (("canal", "whatsapp"), ("status", "pendente")))] == 1
