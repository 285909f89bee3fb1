"""Reminders of agendamentos: a sensor on due reminders (and pending calendar syncs) launches the
`enviar_lembretes` job, which drains them in batches (pipelines.core.agenda.lembretes.send_due_reminders).

No pile-up: one run key per 10 s bucket, and no new run while one is queued or running (each run drains
everything due within its time budget)."""

import time
from typing import Any

import dagster as dg

from pipelines.core.agenda.calendar_sync import count_pending
from pipelines.core.agenda.lembretes import count_due, send_due_reminders
from pipelines.dagster_common import ACTIVE_RUN_STATUSES, KIND_TAG
from pipelines.resources import PostgresResource, SettingsResource

JOB_NAME = "enviar_lembretes"
BUCKET_S = 10


class LembretesConfig(dg.Config):
    time_budget_s: float = 30.0
    batch_size: int = 50


@dg.op(description="Envia os lembretes devidos via MCP e sincroniza eventos de calendário pendentes.")
def enviar_lembretes_op(
    context: dg.OpExecutionContext,
    config: LembretesConfig,
    postgres: PostgresResource,
    settings: SettingsResource,
) -> dict[str, Any]:
    stats = send_due_reminders(
        postgres.url(),
        time_budget_s=config.time_budget_s,
        settings=settings.get(),
        batch_size=config.batch_size,
    )
    calendar = stats.pop("calendar", None) or {}
    metadata: dict[str, Any] = {k: v for k, v in stats.items() if isinstance(v, int | float)}
    metadata.update({f"calendar_{k}": v for k, v in calendar.items()})
    context.add_output_metadata(metadata)
    context.instance.add_run_tags(
        context.run_id, {f"disparo-agenda/{k}": str(v) for k, v in metadata.items()}
    )
    context.log.info(f"lembretes: {metadata}")
    return {**stats, "calendar": calendar}


@dg.job(
    name=JOB_NAME, tags={KIND_TAG: "lembretes"}, description="Lembretes de agendamentos (MCP) e calendário."
)
def enviar_lembretes() -> None:
    enviar_lembretes_op()


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


defs = dg.Definitions(jobs=[enviar_lembretes], sensors=[lembretes_devidos_sensor])
