"""The due-work sensor of the send engine: one `enviar_disparos` run (pipelines/jobs/send.py) per
(tenant, channel) with due disparos on a channel that has an MCP endpoint, never two for the same pair."""

import time

import dagster as dg

from pipelines.core.send import engine as sender
from pipelines.core.send.mcp import CANAIS, endpoint_for
from pipelines.dagster_common import ACTIVE_RUN_STATUSES, CANAL_TAG, TENANT_TAG
from pipelines.jobs.send import enviar_disparos
from pipelines.resources import PostgresResource, SettingsResource

SENSOR_INTERVAL_S = 5


@dg.sensor(
    job=enviar_disparos,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Um run de enviar_disparos por (tenant, canal) com disparos devidos, sem empilhar duplicados.",
)
def disparos_devidos(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: SettingsResource
) -> dg.SensorResult:
    configured = {c for c in CANAIS if endpoint_for(settings.get(), c)}
    with postgres.connection() as conn:
        due = [row for row in sender.count_due(conn) if row["canal"] in configured]
    if not due:
        return dg.SensorResult(skip_reason="nenhum disparo devido (em canal com endpoint MCP configurado)")
    active = {
        (run.tags.get(TENANT_TAG), run.tags.get(CANAL_TAG))
        for run in context.instance.get_runs(
            dg.RunsFilter(job_name=enviar_disparos.name, statuses=ACTIVE_RUN_STATUSES)
        )
    }
    bucket = int(time.time() // SENSOR_INTERVAL_S)  # a new key per tick; active runs are skipped above
    requests = [
        dg.RunRequest(
            run_key=f"{row['tenant_slug']}:{row['canal']}:{bucket}",
            partition_key=row["canal"],
            run_config={"ops": {"enviar": {"config": {"tenant": row["tenant_slug"]}}}},
            tags={TENANT_TAG: row["tenant_slug"], CANAL_TAG: row["canal"]},
        )
        for row in due
        # a run without a tenant (launched by hand) drains the whole channel: it covers every tenant
        if (row["tenant_slug"], row["canal"]) not in active and (None, row["canal"]) not in active
    ]
    if not requests:
        return dg.SensorResult(skip_reason="já há runs na fila ou em execução para todo o trabalho devido")
    return dg.SensorResult(run_requests=requests)
