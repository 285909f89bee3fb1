"""Dagster shells of the send engine: the due-work sensor (build_sensor_context) and the jobs in process."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest

from bench.send_data import seed_due
from pipelines.core.common.settings import Settings
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import list_dlq
from pipelines.dagster_common import CANAL_TAG, loop_worker_id
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


def _beat(conn, run_id: str, *, age_s: float = 0.0, left_s: float | None = 300.0) -> None:
    conn.execute(
        """INSERT INTO envio_workers (worker_id, papel, canais, lembretes, host, pid, heartbeat_em, termina_em)
           VALUES (%s, 'dagster', '{whatsapp}', false, 'h', 1, now() - make_interval(secs => %s),
                   now() + make_interval(secs => %s))
           ON CONFLICT (worker_id) DO UPDATE SET heartbeat_em = excluded.heartbeat_em,
                                                 termina_em = excluded.termina_em""",
        (loop_worker_id(run_id), age_s, left_s),
    )


def test_sensor_keeps_one_healthy_run_per_channel_before_work_is_due(conn, tenant, env) -> None:
    seed_due(conn, tenant["id"], 2, due_in_s=3600)  # nothing due yet: the runs are up already
    with dg.instance_for_test() as instance:
        result = _evaluate(instance, env)
        assert sorted(r.partition_key for r in result.run_requests) == ["email", "whatsapp"]
        for r in result.run_requests:
            assert r.tags[CANAL_TAG] == r.partition_key and r.run_key.startswith(f"loop:{r.partition_key}:")

        # a fresh run per channel (queued/starting, or started with a live heartbeat): nothing to launch
        wa = instance.create_run_for_job(
            enviar_disparos, tags={CANAL_TAG: "whatsapp"}, status=dg.DagsterRunStatus.STARTED
        )
        em = instance.create_run_for_job(
            enviar_disparos, tags={CANAL_TAG: "email"}, status=dg.DagsterRunStatus.STARTING
        )
        _beat(conn, wa.run_id)
        again = _evaluate(instance, env)
        assert not again.run_requests and "no ar" in again.skip_reason.skip_message

        # the whatsapp run is near the end of its budget: its successor is requested before it ends
        _beat(conn, wa.run_id, left_s=20)
        handover = _evaluate(instance, env)
        assert [r.partition_key for r in handover.run_requests] == ["whatsapp"]
        assert instance.get_run_by_id(em.run_id).status == dg.DagsterRunStatus.STARTING


def test_sensor_relaunches_a_run_whose_heartbeat_died_or_that_ended(conn, tenant, env, monkeypatch) -> None:
    import pipelines.dagster_common as common

    monkeypatch.delenv("MCP_EMAIL_ENDPOINT")
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(
            enviar_disparos, tags={CANAL_TAG: "whatsapp"}, status=dg.DagsterRunStatus.STARTED
        )
        _beat(conn, run.run_id, age_s=60)  # killed a minute ago
        monkeypatch.setattr(common, "LOOP_START_GRACE_S", 0.0)  # and past its start grace
        result = _evaluate(instance, build_resources())
        assert [r.partition_key for r in result.run_requests] == ["whatsapp"]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE

        done = instance.create_run_for_job(
            enviar_disparos, tags={CANAL_TAG: "whatsapp"}, status=dg.DagsterRunStatus.SUCCESS
        )
        assert done.run_id  # an ended run covers nothing
        assert [r.partition_key for r in _evaluate(instance, build_resources()).run_requests] == ["whatsapp"]


def test_sensor_skips_without_endpoints(conn, tenant, env, monkeypatch) -> None:
    seed_due(conn, tenant["id"], 2)
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT")
    monkeypatch.delenv("MCP_WHATSAPP_ENDPOINT")
    with dg.instance_for_test() as instance:
        result = _evaluate(instance, build_resources())
        assert not result.run_requests and "nenhum canal" in result.skip_reason.skip_message


def test_job_in_process_sends_and_reports_metadata(conn, tenant, other_tenant, env, sim) -> None:
    ids = seed_due(conn, tenant["id"], 5)
    other = seed_due(conn, other_tenant["id"], 2)
    with dg.instance_for_test() as instance:
        result = enviar_disparos.execute_in_process(
            run_config={"ops": {"enviar": {"config": {"tenant": "acme", "time_budget_s": 3}}}},
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
        assert mats and mats[0]["enviados"].value == 5 and "duracao_s" in mats[0]
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
