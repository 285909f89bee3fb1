"""Reminders of agendamentos: a sensor on due reminders (and pending calendar syncs) launches the
`enviar_lembretes` job (pipelines/jobs/lembretes.py), which drains them in batches.

No pile-up: one run key per 10 s bucket, and no new run while one is queued or running (each run drains
everything due within its time budget)."""

import time

import dagster as dg

from pipelines.core.agenda.calendar_sync import count_pending
from pipelines.core.agenda.lembretes import count_due
from pipelines.dagster_common import ACTIVE_RUN_STATUSES, KIND_TAG
from pipelines.jobs.lembretes import JOB_NAME, enviar_lembretes
from pipelines.resources import PostgresResource, SettingsResource

BUCKET_S = 10


@dg.sensor(
    job=enviar_lembretes,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lembretes devidos (ou eventos de calendário a sincronizar): dispara enviar_lembretes "
    "(run key por janela de 10 s; nunca dois runs ao mesmo tempo).",
)
def lembretes_devidos_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: SettingsResource
) -> dg.SensorResult:
    with postgres.connection() as conn:
        due = count_due(conn)
        calendar = count_pending(conn) if settings.get().mcp_calendar_endpoint else 0
    if not due and not calendar:
        return dg.SensorResult(skip_reason="nenhum lembrete devido")
    active = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=JOB_NAME, statuses=ACTIVE_RUN_STATUSES), limit=1
    )
    if active:
        return dg.SensorResult(skip_reason=f"{due} lembrete(s) devido(s); um run já está em andamento")
    bucket = int(time.time() // BUCKET_S)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"lembretes-{bucket}",
                tags={
                    KIND_TAG: "lembretes",
                    "disparo-agenda/devidos": str(due),
                    "disparo-agenda/calendario": str(calendar),
                },
            )
        ]
    )
