import json
import logging

import dagster as dg

from sensors.run_failure import alerta_run_falhou


@dg.op
def explode() -> None:
    raise RuntimeError("falhou com Bearer dak_0a1b2c3d4e5f_supersecreto")


@dg.job(tags={"disparo-agenda/canal": "whatsapp", "disparo-agenda/tenant": "acme"})
def failing_job() -> None:
    explode()


def test_failed_run_becomes_one_redacted_alert(caplog) -> None:
    with dg.instance_for_test() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="alerta_run_falhou",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
        ).for_run_failure()
        with caplog.at_level(logging.ERROR, logger="disparo_agenda.alerts"):
            alerta_run_falhou(context)
    records = [r for r in caplog.records if r.name == "disparo_agenda.alerts"]
    assert len(records) == 1
    alert = json.loads(records[0].getMessage())
    assert alert["job"] == "failing_job" and alert["canal"] == "whatsapp" and alert["tenant"] == "acme"
    assert alert["run_id"] == result.run_id
    assert "supersecreto" not in records[0].getMessage()
