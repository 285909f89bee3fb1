"""The tables the product owns, as observable assets: one observation reads PostgreSQL's statistics for all
six (row estimate, size, change counters as the data version) and runs the health checks on the send
queue and the ingest. The job `observar_tabelas` (sensors/mart.py schedules it) runs it every few minutes;
the reporting assets (assets/mart.py) sit downstream of these tables."""

from collections.abc import Iterator

import dagster as dg

from pipelines.core.reports import health
from pipelines.resources import PostgresResource

GROUP = "tabelas"
CHECK_DLQ = "dlq_crescendo"
CHECK_LEASES = "leases_presos"
CHECK_ATRASO = "disparo_devido_mais_antigo"
CHECK_INGEST = "ingest_com_falha"

_DESCRIPTIONS = {
    "leads": "Leads de todos os tenants (uma linha por lead_id_externo de cada tenant).",
    "lead_telefones": "Telefones normalizados (+55…) dos leads.",
    "lead_emails": "E-mails normalizados dos leads.",
    "disparos": "Fila e histórico de disparos (WhatsApp e e-mail).",
    "disparos_dlq": "Dead-letter queue: disparos que terminaram em erro depois das tentativas.",
    "agendamentos": "Agendamentos (retornos e reuniões) com seus lembretes.",
}

TABLE_SPECS = [
    dg.AssetSpec(name, group_name=GROUP, kinds={"postgres"}, description=_DESCRIPTIONS[name])
    for name in health.TABLES
]

CHECK_SPECS = [
    dg.AssetCheckSpec(
        CHECK_DLQ, asset="disparos_dlq", description="entradas novas na DLQ na última hora, acima do limite"
    ),
    dg.AssetCheckSpec(
        CHECK_LEASES, asset="disparos", description="disparos em 'enviando' com lease vencido e não retomado"
    ),
    dg.AssetCheckSpec(
        CHECK_ATRASO, asset="disparos", description="idade do disparo devido mais antigo ainda não enviado"
    ),
    dg.AssetCheckSpec(
        CHECK_INGEST, asset="leads", description="jobs de ingestão em erro (24 h) ou parados em 'processando'"
    ),
]


def _result(
    name: str, asset: str, check: health.Check, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    metadata = dict(check.metadata)
    if check.detail:
        metadata["detalhe"] = dg.MetadataValue.json(check.detail)
    return dg.AssetCheckResult(
        check_name=name, asset_key=asset, passed=check.passed, severity=severity, metadata=metadata
    )


@dg.multi_observable_source_asset(
    specs=TABLE_SPECS,
    check_specs=CHECK_SPECS,
    name="tabelas_do_produto",
    description="Observa as tabelas do produto no PostgreSQL e verifica a saúde da fila e da ingestão.",
)
def tabelas_do_produto(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> Iterator[dg.ObserveResult]:
    limits = health.Limits()
    with postgres.connection() as conn:
        stats = health.table_stats(conn)
        checks = {
            CHECK_DLQ: ("disparos_dlq", health.dlq_growing(conn, limits), dg.AssetCheckSeverity.WARN),
            CHECK_LEASES: ("disparos", health.stuck_leases(conn, limits), dg.AssetCheckSeverity.ERROR),
            CHECK_ATRASO: ("disparos", health.oldest_due(conn, limits), dg.AssetCheckSeverity.WARN),
            CHECK_INGEST: ("leads", health.failed_ingests(conn, limits), dg.AssetCheckSeverity.ERROR),
        }
    for table in health.TABLES:
        s = stats.get(table, {})
        yield dg.ObserveResult(
            asset_key=table,
            data_version=dg.DataVersion(s.get("versao", "0:0:0")),
            metadata={
                "linhas_estimadas": dg.MetadataValue.int(int(s.get("linhas_estimadas", 0))),
                "tamanho_bytes": dg.MetadataValue.int(int(s.get("bytes", 0))),
                "inseridas": int(s.get("inseridas", 0)),
                "atualizadas": int(s.get("atualizadas", 0)),
                "excluidas": int(s.get("excluidas", 0)),
            },
            check_results=[
                _result(name, asset, check, severity)
                for name, (asset, check, severity) in checks.items()
                if asset == table
            ],
        )
