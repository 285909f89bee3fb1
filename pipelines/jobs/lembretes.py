"""Reminders of agendamentos: the `enviar_lembretes` job is a long-lived run of the send loop
(pipelines.core.send.loop) for reminders and pending calendar syncs only; sensors/lembretes.py keeps one
healthy run and launches the successor before the current one ends."""

from typing import Any

import dagster as dg

from pipelines.core.send.engine import SendOptions
from pipelines.core.send.loop import LoopOptions, run_loop
from pipelines.dagster_common import KIND_TAG, loop_worker_id
from pipelines.jobs.send import loop_metadata
from pipelines.resources import PostgresResource, SettingsResource

JOB_NAME = "enviar_lembretes"


class LembretesConfig(dg.Config):
    time_budget_s: float = 600.0
    concurrency: int = 50


@dg.op(
    description="Loop de lembretes durante o orçamento de tempo: envia os lembretes na hora (NOTIFY) e "
    "sincroniza eventos de calendário pendentes."
)
def enviar_lembretes_op(
    context: dg.OpExecutionContext,
    config: LembretesConfig,
    postgres: PostgresResource,
    settings: SettingsResource,
) -> dict[str, Any]:
    options = LoopOptions(
        send=SendOptions(concurrency=config.concurrency, worker_id=loop_worker_id(context.run_id)),
        disparos=False,
        papel="dagster",
        time_budget_s=config.time_budget_s,
    )
    stats = run_loop(postgres.url(), options, settings=settings.get())
    metadata = loop_metadata(stats)
    context.add_output_metadata(metadata)
    context.instance.add_run_tags(
        context.run_id, {f"disparo-agenda/{k}": str(v) for k, v in metadata.items()}
    )
    context.log.info(f"lembretes: {metadata}")
    return stats.as_dict()


@dg.job(
    name=JOB_NAME,
    tags={KIND_TAG: "lembretes"},
    description="Loop de lembretes de agendamentos (MCP) e calendário por alguns minutos; o sensor mantém "
    "um run saudável.",
)
def enviar_lembretes() -> None:
    enviar_lembretes_op()
