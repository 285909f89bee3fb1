"""The reporting mart as daily-partitioned assets: each partition exports the day's facts from PostgreSQL
and writes that day's Parquet files (replacing them: a backfill over any range is safe to repeat), then
refreshes the DuckDB catalog's views. The logic is pipelines.core.reports.build; these are shells."""

from datetime import date, timedelta

import dagster as dg

from pipelines.core.reports.build import DayBuild, build_days, markdown_table, run_in_background_priority
from pipelines.core.reports.mart import create_views
from pipelines.resources import MartResource, PostgresResource

GROUP = "relatorios"
# Days of the mart, in the time zone of the default tenant; each tenant's facts fall in its own local day.
mart_partitions = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="America/Sao_Paulo")


class MartConfig(dg.Config):
    """`segundo_plano`: the run builds at low CPU priority (nice 10, SCHED_IDLE) with one DuckDB thread, so
    the send engine and the API on the same host are slowed as little as possible (bench/bench_mart.py
    measures it)."""

    segundo_plano: bool = True


def _materialize(
    context: dg.AssetExecutionContext,
    config: MartConfig,
    subject: str,
    postgres: PostgresResource,
    mart: MartResource,
) -> dg.MaterializeResult:
    """Every day of the run's partitions (one, or a backfill's whole range in one run), then the views."""
    if config.segundo_plano:
        run_in_background_priority()
    url = postgres.url()
    with postgres.connection() as conn:
        dias = [date.fromisoformat(key) for key in context.partition_keys]
        days = build_days(
            conn,
            url,
            mart.mart(),
            subject,
            dias,
            threads=1 if config.segundo_plano else None,
            log=context.log.info,
        )
    with mart.get_connection() as catalog:
        create_views(catalog, mart.mart())
    return dg.MaterializeResult(metadata=_metadata(days))


def _metadata(days: list[DayBuild]) -> dict:
    """The summary table (with the day in front when the run built several) and the row counts."""
    if len(days) == 1:
        summary = days[0].summary_markdown()
    else:
        summary = markdown_table(
            ["dia", *days[0].summary_columns],
            [(d.dia.isoformat(), *row) for d in days for row in d.summary_rows],
        )
    totals: dict[str, int] = {}
    for d in days:
        for dataset, n in d.linhas.items():
            totals[dataset] = totals.get(dataset, 0) + n
    return {
        "resumo": dg.MetadataValue.md(summary),
        "dias": dg.MetadataValue.int(len(days)),
        **{f"linhas_{k}": dg.MetadataValue.int(v) for k, v in totals.items()},
        "tempos_s": dg.MetadataValue.json({d.dia.isoformat(): d.tempos_s for d in days}),
    }


# Yesterday's day is built at 04:00 (sensors/mart.py); an asset with no materialization between 00:00 and
# 06:00 shows as late in the UI.
_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=6), timezone="America/Sao_Paulo"
)
# A backfill runs its whole range in one run per asset (a run's start costs seconds; a day, ~1 s).
_COMMON = dict(
    group_name=GROUP,
    partitions_def=mart_partitions,
    kinds={"duckdb", "parquet"},
    freshness_policy=_FRESHNESS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)


@dg.asset(
    deps=["disparos", "disparos_dlq"],
    description="Funil de entrega do dia por tenant × canal × campanha: criados, enviados, confirmados, "
    "erro, bloqueado, dlq, taxa de falha, tempo até envio p50/p95 (disparos criados no dia).",
    **_COMMON,
)
def mart_funil(
    context: dg.AssetExecutionContext, config: MartConfig, postgres: PostgresResource, mart: MartResource
) -> dg.MaterializeResult:
    return _materialize(context, config, "funil", postgres, mart)


@dg.asset(
    deps=["leads", "lead_telefones", "lead_emails"],
    description="Qualidade da ingestão por job criado no dia: linhas, rejeitadas por motivo, taxa de "
    "contato válido.",
    **_COMMON,
)
def mart_ingest(
    context: dg.AssetExecutionContext, config: MartConfig, postgres: PostgresResource, mart: MartResource
) -> dg.MaterializeResult:
    return _materialize(context, config, "ingest", postgres, mart)


@dg.asset(
    deps=["agendamentos"],
    description="Agendamentos criados no dia por tenant × tipo × canal: realizados, cancelados, "
    "lembretes enviados.",
    **_COMMON,
)
def mart_agendamentos(
    context: dg.AssetExecutionContext, config: MartConfig, postgres: PostgresResource, mart: MartResource
) -> dg.MaterializeResult:
    return _materialize(context, config, "agendamentos", postgres, mart)


MART_ASSETS = [mart_funil, mart_ingest, mart_agendamentos]
