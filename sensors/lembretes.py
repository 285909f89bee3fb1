"""Reminders of agendamentos: the sensor keeps one healthy long-lived `enviar_lembretes` run
(pipelines/jobs/lembretes.py) — the same rules as sensors/send.py: a run counts while queued/starting or
while its heartbeat is fresh with more than LOOP_HANDOVER_S left; a started run whose heartbeat died is
reported failed; otherwise a successor is requested."""

import time

import dagster as dg

from pipelines.core.send.loop import loop_health
from pipelines.dagster_common import KIND_TAG, active_run_ids, loop_runs_status, loop_worker_id
from pipelines.jobs.lembretes import JOB_NAME, enviar_lembretes
from pipelines.resources import PostgresResource

BUCKET_S = 5


@dg.sensor(
    job=enviar_lembretes,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mantém um run longo e saudável de enviar_lembretes (relança se terminou ou morreu; o "
    "sucessor sobe antes do fim do orçamento do atual).",
)
def lembretes_devidos_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    ids = [loop_worker_id(r) for r in active_run_ids(context.instance, JOB_NAME, {})]
    with postgres.connection() as conn:
        health = loop_health(conn, ids)
    covering, dead = loop_runs_status(context.instance, JOB_NAME, {}, health)
    for run in dead:
        context.instance.report_run_failed(run)
    if covering:
        return dg.SensorResult(skip_reason=f"run {covering[0].run_id[:8]} de lembretes no ar")
    bucket = int(time.time() // BUCKET_S)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"lembretes-{bucket}", tags={KIND_TAG: "lembretes"})]
    )
