"""The reminders sensor and job against a real database and the MCP simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from agendamentos_support import make_lead, sim_messages

from pipelines.core.agenda import agendamentos as ag
from pipelines.jobs.lembretes import enviar_lembretes
from pipelines.resources import build_resources
from sensors.lembretes import lembretes_devidos_sensor


@pytest.fixture
def sim(monkeypatch):
    from pipelines.mcp_sim import SimConfig, run_in_thread

    handle = run_in_thread(SimConfig())
    for name in ("MCP_WHATSAPP_ENDPOINT", "MCP_EMAIL_ENDPOINT"):
        monkeypatch.setenv(name, handle.url)
    monkeypatch.delenv("MCP_CALENDAR_ENDPOINT", raising=False)
    yield handle
    handle.stop()


def test_sensor_and_job(conn, database_url, tenant, sim) -> None:
    resources = build_resources()  # DATABASE_URL and MCP_*_ENDPOINT set by the fixtures
    t = tenant["tenant"]
    lead = make_lead(conn, t.id)
    later = ag.create_agendamento(
        conn, t, lead, tipo="callback", canal="telefone", responsavel="ana@empresa.com",
        data_agendada=datetime.now(UTC) + timedelta(hours=3),
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        due = ag.create_agendamento(
            conn, t, lead, tipo="callback", canal="telefone", responsavel="bia@empresa.com",
            data_agendada=datetime.now(UTC) + timedelta(minutes=10),
        )  # fmt: skip
        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        (req,) = result.run_requests  # one long-lived run, whether or not anything is due yet
        assert req.run_key.startswith("lembretes-")

        run = enviar_lembretes.execute_in_process(
            run_config={"ops": {"enviar_lembretes_op": {"config": {"time_budget_s": 3}}}},
            instance=instance,
            resources=resources,
            tags=req.tags,
        )
        assert run.success
        stats = run.output_for_node("enviar_lembretes_op")
        assert stats["lembretes_enviados"] == 1
        (out,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
        assert out.event_specific_data.metadata["lembretes_enviados"].value == 1  # run metadata in the UI
        assert instance.get_run_by_id(run.run_id).tags["disparo-agenda/lembretes_enviados"] == "1"
        (msg,) = sim_messages(sim.url)
        assert (
            msg["to"] == "bia@empresa.com"
            and msg["idempotency_key"] == f"{due['agendamento_id']}:responsavel:1"
        )
        assert later["agendamento_id"] not in msg["idempotency_key"]

        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert len(result.run_requests) == 1  # that run ended: the next one is requested


def test_sensor_does_not_pile_up_runs(conn, database_url, tenant, sim) -> None:
    resources = build_resources()  # DATABASE_URL and MCP_*_ENDPOINT set by the fixtures
    t = tenant["tenant"]
    ag.create_agendamento(
        conn, t, make_lead(conn, t.id), tipo="callback", canal="telefone", responsavel="ana@empresa.com",
        data_agendada=datetime.now(UTC) + timedelta(minutes=5),
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(enviar_lembretes, status=dg.DagsterRunStatus.STARTED)
        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not result.run_requests and "no ar" in result.skip_reason.skip_message


def test_the_code_location_wires_the_reminders_sensor_to_its_job() -> None:
    from pipelines.definitions import defs

    sensor = defs.resolve_sensor_def("lembretes_devidos_sensor")
    assert sensor.job_name == "enviar_lembretes"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds <= 10
    job = defs.resolve_job_def("enviar_lembretes")
    assert {"postgres", "settings"} <= job.required_resource_keys
