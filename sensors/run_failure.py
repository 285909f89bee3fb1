"""Run-failure sensor: every failed run of this code location becomes one structured ERROR log line
(job, run id, tenant and channel tags, the error) — the hook for whatever alerting watches the logs."""

from __future__ import annotations

import json
import logging

import dagster as dg

from pipelines.core.common.logs import redact
from pipelines.dagster_common import CANAL_TAG, TENANT_TAG

log = logging.getLogger("disparo_agenda.alerts")


def failure_alert(
    job_name: str, run_id: str, tags: dict[str, str], message: str | None
) -> dict[str, str | None]:
    return {
        "alerta": "run_falhou",
        "job": job_name,
        "run_id": run_id,
        "tenant": tags.get(TENANT_TAG) or tags.get("tenant"),
        "canal": tags.get(CANAL_TAG),
        "erro": redact(message or "")[:500] or None,
    }


@dg.run_failure_sensor(name="alerta_run_falhou", default_status=dg.DefaultSensorStatus.RUNNING)
def alerta_run_falhou(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    alert = failure_alert(run.job_name, run.run_id, dict(run.tags), context.failure_event.message)
    log.error(json.dumps(alert, ensure_ascii=False))
    context.log.error(f"run {run.run_id} de {run.job_name} falhou: {alert['erro']}")
