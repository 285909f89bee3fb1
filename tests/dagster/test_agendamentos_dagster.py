"""The reminders sensor and job against a real database and the MCP simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from agendamentos_support import make_lead, sim_messages

from pipelines.core.agenda import agendamentos as ag
from pipelines.resources import PostgresResource, SettingsResource
from sensors.agendamentos import enviar_lembretes, lembretes_devidos_sensor


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
    resources = {"postgres": PostgresResource(database_url=database_url), "settings": SettingsResource()}
    t = tenant["tenant"]
    lead = make_lead(conn, t.id)
    later = ag.create_agendamento(
        conn, t, lead, tipo="callback", canal="telefone", responsavel="ana@empresa.com",
        data_agendada=datetime.now(UTC) + timedelta(hours=3),
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not result.run_requests and "nenhum" in result.skip_reason.skip_message

        due = ag.create_agendamento(
            conn, t, lead, tipo="callback", canal="telefone", responsavel="bia@empresa.com",
            data_agendada=datetime.now(UTC) + timedelta(minutes=10),
        )  # fmt: skip
        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        (req,) = result.run_requests
        assert req.run_key.startswith("lembretes-") and req.tags["disparo-agenda/devidos"] == "1"

        run = enviar_lembretes.execute_in_process(instance=instance, resources=resources, tags=req.tags)
        assert run.success
        stats = run.output_for_node("enviar_lembretes_op")
        assert stats["enviados"] == 1
        (out,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
        assert out.event_specific_data.metadata["enviados"].value == 1  # run metadata in the UI
        assert instance.get_run_by_id(run.run_id).tags["disparo-agenda/enviados"] == "1"
        (msg,) = sim_messages(sim.url)
        assert (
            msg["to"] == "bia@empresa.com"
            and msg["idempotency_key"] == f"{due['agendamento_id']}:responsavel:1"
        )
        assert later["agendamento_id"] not in msg["idempotency_key"]

        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not result.run_requests  # drained


def test_sensor_does_not_pile_up_runs(conn, database_url, tenant, sim) -> None:
    resources = {"postgres": PostgresResource(database_url=database_url), "settings": SettingsResource()}
    t = tenant["tenant"]
    ag.create_agendamento(
        conn, t, make_lead(conn, t.id), tipo="callback", canal="telefone", responsavel="ana@empresa.com",
        data_agendada=datetime.now(UTC) + timedelta(minutes=5),
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(enviar_lembretes, status=dg.DagsterRunStatus.STARTED)
        result = lembretes_devidos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not result.run_requests and "em andamento" in result.skip_reason.skip_message


def test_definitions_include_job_and_sensor() -> None:
    from sensors.agendamentos import defs

    merged = dg.Definitions.merge(
        dg.Definitions(resources={"postgres": PostgresResource(), "settings": SettingsResource()}), defs
    )
    dg.Definitions.validate_loadable(merged)
    assert merged.resolve_job_def("enviar_lembretes") is not None
    assert merged.resolve_sensor_def("lembretes_devidos_sensor").minimum_interval_seconds <= 10
