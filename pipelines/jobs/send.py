"""Dagster jobs of the send engine (pipelines.core.send.engine): `enviar_disparos`, partitioned by channel
(sensors/send.py launches one run per (tenant, channel) with due disparos), and `redrive_dlq` (also a
backfill over the channel partitions).

`deploy/dagster*.yaml` cap concurrent runs per value of the `disparo-agenda/canal` tag, which every
`enviar_disparos` run carries (from its partition)."""

from datetime import datetime

import dagster as dg

from pipelines.core.common.errors import ValidationError
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import redrive
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug
from pipelines.dagster_common import CANAL_TAG, KIND_TAG
from pipelines.resources import PostgresResource, SettingsResource

canal_partitions = dg.StaticPartitionsDefinition(list(CANAIS))


class EnviarConfig(dg.Config):
    tenant: str | None = None  # tenant slug; empty: every tenant with due work on the channel
    time_budget_s: float = 30.0
    batch_size: int = 500
    concurrency: int = 50


@dg.static_partitioned_config(partition_keys=list(CANAIS), tags_for_partition_key_fn=lambda k: {CANAL_TAG: k})
def _enviar_partition_config(partition_key: str) -> dict:
    return {"ops": {"enviar": {"config": {}}}}


@dg.op(description="Drena os disparos devidos do canal (partição) até não haver mais ou o tempo acabar.")
def enviar(
    context: dg.OpExecutionContext,
    config: EnviarConfig,
    postgres: PostgresResource,
    settings: SettingsResource,
) -> dg.Output[dict]:
    canal = context.partition_key
    tenant_id = None
    if config.tenant:
        with postgres.connection() as conn:
            tenant_id = get_tenant_by_slug(conn, config.tenant).id
    stats = sender.send_due(
        postgres.url(),
        canal=canal,
        tenant_id=tenant_id,
        time_budget_s=config.time_budget_s,
        batch_size=config.batch_size,
        concurrency=config.concurrency,
        settings=settings.get(),
        worker_id=f"dagster:{context.run_id[:8]}",
    )
    data = stats.as_dict()
    context.log.info(f"envio {canal} tenant={config.tenant or '*'}: {data}")
    context.instance.add_run_tags(
        context.run_id,
        {
            f"disparo-agenda/{k}": str(data[k])
            for k in ("enviados", "falhas", "reenvios", "dlq", "throughput")
        },
    )
    return dg.Output(
        data,
        metadata={
            "enviados": stats.enviados,
            "falhas": stats.falhas,
            "reenvios": stats.reenvios,
            "dlq": stats.dlq,
            "bloqueados": stats.bloqueados,
            "adiados": stats.adiados,
            "liberados": stats.liberados,
            "duracao_s": stats.duration_s,
            "throughput_msg_s": stats.throughput,
        },
    )


@dg.job(
    config=_enviar_partition_config,
    description="Envia os disparos devidos de um canal (partição) e, opcionalmente, de um tenant (config/tag).",
    tags={KIND_TAG: "send"},
)
def enviar_disparos() -> None:
    enviar()


class RedriveConfig(dg.Config):
    tenant: str | None = None  # tenant slug; empty: every tenant
    since: str | None = None  # ISO-8601, DLQ entries created at or after
    until: str | None = None  # ISO-8601, created before


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{name} inválido: {value!r} (use ISO-8601)", field=name) from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"{name} precisa de fuso horário (ex.: 2026-01-01T00:00:00-03:00)", field=name)
    return parsed


@dg.op(description="Devolve os disparos da DLQ do canal (partição) para pendente, com tentativas novas.")
def reenviar_dlq(
    context: dg.OpExecutionContext, config: RedriveConfig, postgres: PostgresResource
) -> dg.Output[dict]:
    with postgres.connection() as conn:
        tenant_id = get_tenant_by_slug(conn, config.tenant).id if config.tenant else None
        result = redrive(
            conn,
            tenant_id=tenant_id,
            canal=context.partition_key,
            since=_parse_time(config.since, "since"),
            until=_parse_time(config.until, "until"),
        )
    context.log.info(
        f"{result.redriven} disparos devolvidos para pendente, {result.skipped} ignorados "
        f"(lead já com disparo ativo na campanha) ({context.partition_key})"
    )
    return dg.Output(result.as_dict(), metadata=result.as_dict())


@dg.job(
    partitions_def=canal_partitions,
    description="Re-drive da DLQ: disparos mortos de volta para pendente (config: tenant, since, until).",
    tags={KIND_TAG: "redrive"},
)
def redrive_dlq() -> None:
    reenviar_dlq()
