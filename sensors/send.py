"""The send sensor: keeps one healthy long-lived `enviar_disparos` run (pipelines/jobs/send.py, the send
loop for a few minutes) per channel that has an MCP endpoint — launched before work is due, so nothing
waits for a run to start. A run counts while it is queued or starting, or while its heartbeat row
(`envio_workers`) is fresh and it has more than LOOP_HANDOVER_S of its budget left; otherwise a
successor is requested (the two overlap, SKIP LOCKED makes them cooperate). A started run whose heartbeat
died is reported failed, so it does not hold its channel's concurrency slot."""

import time

import dagster as dg

from pipelines.core.send.loop import loop_health
from pipelines.core.send.mcp import CANAIS, endpoint_for
from pipelines.dagster_common import (
    CANAL_TAG,
    KIND_TAG,
    LOOP_HANDOVER_S,
    active_run_ids,
    loop_runs_status,
    loop_worker_id,
)
from pipelines.jobs.send import enviar_disparos
from pipelines.resources import PostgresResource, SettingsResource

SENSOR_INTERVAL_S = 5


@dg.sensor(
    job=enviar_disparos,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mantém um run longo e saudável de enviar_disparos por canal com endpoint MCP (relança se "
    f"terminou ou morreu; o sucessor sobe quando faltam {LOOP_HANDOVER_S:.0f} s do orçamento do atual).",
)
def disparos_devidos(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: SettingsResource
) -> dg.SensorResult:
    configured = [c for c in CANAIS if endpoint_for(settings.get(), c)]
    if not configured:
        return dg.SensorResult(skip_reason="nenhum canal com endpoint MCP configurado")
    ids = [
        loop_worker_id(run_id)
        for canal in configured
        for run_id in active_run_ids(context.instance, enviar_disparos.name, {CANAL_TAG: canal})
    ]
    with postgres.connection() as conn:
        health = loop_health(conn, ids)
    requests, notes = [], []
    bucket = int(time.time() // SENSOR_INTERVAL_S)
    for canal in configured:
        covering, dead = loop_runs_status(context.instance, enviar_disparos.name, {CANAL_TAG: canal}, health)
        for run in dead:
            context.instance.report_run_failed(run)
            notes.append(f"{canal}: run {run.run_id[:8]} sem heartbeat, marcado como falho")
        if covering:
            notes.append(f"{canal}: run {covering[0].run_id[:8]} no ar")
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"loop:{canal}:{bucket}",
                partition_key=canal,
                tags={CANAL_TAG: canal, KIND_TAG: "send"},
            )
        )
    if not requests:
        return dg.SensorResult(skip_reason="; ".join(notes))
    if notes:
        context.log.info("; ".join(notes))
    return dg.SensorResult(run_requests=requests)
