"""Dagster shells of the send engine: the due-work sensor (build_sensor_context) and the jobs in process."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.settings import Settings
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import list_dlq
from pipelines.dagster_common import CANAL_TAG, TENANT_TAG
from pipelines.jobs.send import enviar_disparos, redrive_dlq
from pipelines.resources import build_resources
from sensors.send import disparos_devidos


@pytest.fixture
def env(sim, database_url, monkeypatch):
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", sim.url)
    return build_resources()  # DATABASE_URL (database_url fixture) and the endpoints above


def _evaluate(instance, resources) -> dg.SensorResult:
    ctx = dg.build_sensor_context(instance=instance, resources=resources)
    return disparos_devidos(ctx)


def test_sensor_requests_one_run_per_tenant_and_channel(conn, tenant, other_tenant, env) -> None:
    seed_due(conn, tenant["id"], 3)
    seed_due(conn, tenant["id"], 2, canal="email", prefix="E")
    seed_due(conn, other_tenant["id"], 1)
    seed_due(conn, other_tenant["id"], 4, due_in_s=3600, prefix="F")  # not due yet
    with dg.instance_for_test() as instance:
        result = _evaluate(instance, env)
        got = sorted((r.tags[TENANT_TAG], r.partition_key) for r in result.run_requests)
        assert got == [("acme", "email"), ("acme", "whatsapp"), ("outra", "whatsapp")]
        for r in result.run_requests:
            assert r.tags[CANAL_TAG] == r.partition_key
            assert r.run_config["ops"]["enviar"]["config"]["tenant"] == r.tags[TENANT_TAG]
            assert r.run_key.startswith(f"{r.tags[TENANT_TAG]}:{r.partition_key}:")

        # a running run for (acme, whatsapp) suppresses a duplicate request for it
        instance.create_run_for_job(
            enviar_disparos,
            run_config={"ops": {"enviar": {"config": {"tenant": "acme"}}}},
            tags={TENANT_TAG: "acme", CANAL_TAG: "whatsapp", "dagster/partition": "whatsapp"},
            status=dg.DagsterRunStatus.STARTED,
        )
        again = _evaluate(instance, env)
        assert sorted((r.tags[TENANT_TAG], r.partition_key) for r in again.run_requests) == [
            ("acme", "email"),
            ("outra", "whatsapp"),
        ]
        # a running whole-channel run (no tenant) covers every tenant of that channel
        instance.create_run_for_job(
            enviar_disparos,
            run_config={"ops": {"enviar": {"config": {}}}},
            tags={CANAL_TAG: "whatsapp", "dagster/partition": "whatsapp"},
            status=dg.DagsterRunStatus.STARTED,
        )
        third = _evaluate(instance, env)
        assert [(r.tags[TENANT_TAG], r.partition_key) for r in third.run_requests] == [("acme", "email")]


def test_sensor_skips_when_nothing_is_due(conn, tenant, env, monkeypatch) -> None:
    seed_due(conn, tenant["id"], 2, due_in_s=600)
    seed_due(conn, tenant["id"], 2, canal="email", prefix="E")
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT")  # due e-mails, but no e-mail endpoint: nothing to launch
    with dg.instance_for_test() as instance:
        result = _evaluate(instance, build_resources())
        assert not result.run_requests and "nenhum" in result.skip_reason.skip_message


def test_job_in_process_sends_and_reports_metadata(conn, tenant, other_tenant, env, sim) -> None:
    ids = seed_due(conn, tenant["id"], 5)
    other = seed_due(conn, other_tenant["id"], 2)
    with dg.instance_for_test() as instance:
        result = enviar_disparos.execute_in_process(
            run_config={"ops": {"enviar": {"config": {"tenant": "acme", "time_budget_s": 10}}}},
            partition_key="whatsapp",
            instance=instance,
            resources=env,
        )
        assert result.success
        assert result.output_for_node("enviar")["enviados"] == 5
        run = instance.get_run_by_id(result.run_id)
        assert run.tags[CANAL_TAG] == "whatsapp" and run.tags["disparo-agenda/enviados"] == "5"
        mats = [
            e.event_specific_data.metadata
            for e in result.all_events
            if e.event_type_value == "STEP_OUTPUT" and e.step_key == "enviar"
        ]
        assert mats and mats[0]["enviados"].value == 5 and "throughput_msg_s" in mats[0]
    statuses = {
        r["status"] for r in conn.execute("SELECT status FROM disparos WHERE disparo_id = ANY(%s)", (ids,))
    }
    assert statuses == {"enviado"}
    other_status = {
        r["status"] for r in conn.execute("SELECT status FROM disparos WHERE disparo_id = ANY(%s)", (other,))
    }
    assert other_status == {"pendente"}  # another tenant's work is not this run's


def test_redrive_job_over_channel_partition(conn, database_url, tenant, env, sim) -> None:
    ids = seed_due(conn, tenant["id"], 2, max_tentativas=1)
    httpx.post(sim.url + "/sim/config", json={"rate_4xx": 1.0}).raise_for_status()
    sender.send_due(database_url, settings=Settings.from_env())
    assert len(list_dlq(conn, tenant["id"])) == 2
    with dg.instance_for_test() as instance:
        email = redrive_dlq.execute_in_process(
            run_config={"ops": {"reenviar_dlq": {"config": {"tenant": "acme"}}}},
            partition_key="email",
            instance=instance,
            resources=env,
        )
        assert email.output_for_node("reenviar_dlq") == {"redriven": 0, "skipped": 0}
        wa = redrive_dlq.execute_in_process(
            run_config={
                "ops": {"reenviar_dlq": {"config": {"tenant": "acme", "since": "2000-01-01T00:00:00+00:00"}}}
            },
            partition_key="whatsapp",
            instance=instance,
            resources=env,
        )
        assert wa.output_for_node("reenviar_dlq") == {"redriven": 2, "skipped": 0}
        [output] = [e for e in wa.all_node_events if e.is_successful_output]
        assert {k: v.value for k, v in output.event_specific_data.metadata.items()} == {
            "redriven": 2,
            "skipped": 0,
        }
    assert {
        r["status"] for r in conn.execute("SELECT status FROM disparos WHERE disparo_id = ANY(%s)", (ids,))
    } == {"pendente"}
