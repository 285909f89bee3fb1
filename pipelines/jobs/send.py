"""Dagster jobs of the send engine: `enviar_disparos`, partitioned by channel — a long-lived run of the
send loop (pipelines.core.send.loop) for `time_budget_s`; sensors/send.py keeps one healthy run per
channel and launches the successor before the current one ends — and `redrive_dlq` (also a backfill over
the channel partitions).

`deploy/dagster*.yaml` cap concurrent runs per value of the `disparo-agenda/canal` tag, which every
`enviar_disparos` run carries (from its partition)."""

from datetime import datetime

import dagster as dg

from pipelines.core.common.errors import ValidationError
from pipelines.core.send.dlq import redrive
from pipelines.core.send.engine import SendOptions
from pipelines.core.send.loop import LoopOptions, LoopStats, run_loop
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug
from pipelines.dagster_common import CANAL_TAG, KIND_TAG, loop_worker_id
from pipelines.resources import PostgresResource, SettingsResource

canal_partitions = dg.StaticPartitionsDefinition(list(CANAIS))


class EnviarConfig(dg.Config):
    tenant: str | None = None  # tenant slug; empty: every tenant of the channel
    time_budget_s: float = 600.0  # the run lives this long; the sensor launches its successor before
    batch_size: int = 500
    concurrency: int = 50


@dg.static_partitioned_config(partition_keys=list(CANAIS), tags_for_partition_key_fn=lambda k: {CANAL_TAG: k})
def _enviar_partition_config(partition_key: str) -> dict:
    return {"ops": {"enviar": {"config": {}}}}


def loop_metadata(stats: LoopStats) -> dict[str, float | int]:
    return {k: v for k, v in stats.as_dict().items() if isinstance(v, int | float)}


@dg.op(
    description="Loop de envio do canal (partição) durante o orçamento de tempo: envia o que vence, dorme "
    "até o próximo horário, acorda na hora com NOTIFY; ao fim do orçamento passa a vez ao próximo run."
)
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
    options = LoopOptions(
        send=SendOptions(
            canal=canal,
            tenant_id=tenant_id,
            batch_size=config.batch_size,
            concurrency=config.concurrency,
            worker_id=loop_worker_id(context.run_id),
        ),
        lembretes=False,
        papel="dagster",
        time_budget_s=config.time_budget_s,
    )
    stats = run_loop(postgres.url(), options, settings=settings.get())
    data = stats.as_dict()
    context.log.info(f"envio {canal} tenant={config.tenant or '*'}: {data}")
    context.instance.add_run_tags(
        context.run_id,
        {f"disparo-agenda/{k}": str(data[k]) for k in ("enviados", "falhas", "reenvios", "dlq", "duracao_s")},
    )
    return dg.Output(data, metadata=loop_metadata(stats))


@dg.job(
    config=_enviar_partition_config,
    description="Loop de envio de um canal (partição) por alguns minutos; o sensor disparos_devidos mantém "
    "um run saudável por canal.",
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
