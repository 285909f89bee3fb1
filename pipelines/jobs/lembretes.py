"""Reminders of agendamentos: the `enviar_lembretes` job drains due reminders (and pending calendar
syncs) in batches — pipelines.core.agenda.lembretes.send_due_reminders. sensors/lembretes.py launches it."""

from typing import Any

import dagster as dg

from pipelines.core.agenda.lembretes import send_due_reminders
from pipelines.dagster_common import KIND_TAG
from pipelines.resources import PostgresResource, SettingsResource

JOB_NAME = "enviar_lembretes"


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
