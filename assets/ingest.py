"""Lead ingest as a dynamically partitioned asset: one partition per ingest job, keyed
`<tenant-slug>/<file-stem>/<job_id>`. The sensors in sensors/ingest.py add partitions and launch them;
re-materializing a partition (a backfill from the UI) re-ingests that partition's stored file as a
fresh job, so every job keeps its own counts and rejects. Who runs the job is decided in
pipelines.core.ingest.runs; this asset turns its outcome into metadata and checks."""

# No `from __future__ import annotations` here: Dagster resolves the Config annotation at decoration time.
import time
from typing import Any

import dagster as dg

from pipelines.core.common.errors import DisparoAgendaError
from pipelines.core.ingest.runs import PartitionOutcome, run_for_partition
from pipelines.core.ingest.surfaces import PARTITIONS_NAME
from pipelines.dagster_common import SOURCE_TAG
from pipelines.resources import PostgresResource, SettingsResource

ingest_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)

CHECK_REJECTS = "taxa_de_rejeicao"
CHECK_CONTACT = "leads_com_contato_valido"


class IngestConfig(dg.Config):
    """Thresholds of the asset checks (editable in the launchpad)."""

    max_taxa_rejeicao: float = 0.10
    min_taxa_contato: float = 0.50


def materialization_metadata(outcome: PartitionOutcome, key: str) -> dict[str, Any]:
    """What a materialization of the partition shows (by a run, or reported for a run made elsewhere)."""
    doc = outcome.document
    return {
        "job_id": str(outcome.job_id),
        "arquivo": doc.get("arquivo_origem") or key,
        "status": doc["status"],
        "origem": doc.get("origem") or "-",
        "executado_agora": outcome.ran,
        "linhas_total": outcome.linhas_total,
        "linhas_processadas": doc.get("linhas_processadas") or 0,
        "linhas_rejeitadas": doc.get("linhas_rejeitadas") or 0,
        "leads_criados": doc.get("leads_criados") or 0,
        "leads_atualizados": doc.get("leads_atualizados") or 0,
        "telefones_criados": doc.get("telefones_criados") or 0,
        "emails_criados": doc.get("emails_criados") or 0,
        # the ingest's own measure (read to load); this run's wall time when it only reported
        "duracao_s": dg.MetadataValue.float(
            round((doc.get("avisos") or {}).get("duracao_s") or outcome.duration_s, 3)
        ),
        "avisos": dg.MetadataValue.json(doc.get("avisos") or {}),
        "motivos_rejeicao": dg.MetadataValue.table(
            records=[dg.TableRecord(dict(r)) for r in outcome.reject_reasons],
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("coluna", "string"),
                    dg.TableColumn("motivo", "string"),
                    dg.TableColumn("linhas", "int"),
                    dg.TableColumn("primeira_linha", "int"),
                ]
            ),
        ),
    }


def check_values(outcome: PartitionOutcome, config: IngestConfig) -> list[tuple[str, bool, dict[str, Any]]]:
    """(check name, passed, metadata) of the asset's checks for one job."""
    doc = outcome.document
    return [
        (
            CHECK_REJECTS,
            outcome.reject_rate <= config.max_taxa_rejeicao,
            {
                "taxa": dg.MetadataValue.float(round(outcome.reject_rate, 4)),
                "limite": dg.MetadataValue.float(config.max_taxa_rejeicao),
                "linhas_rejeitadas": doc.get("linhas_rejeitadas") or 0,
                "linhas_total": outcome.linhas_total,
            },
        ),
        (
            CHECK_CONTACT,
            outcome.contact_rate >= config.min_taxa_contato,
            {
                "taxa": dg.MetadataValue.float(round(outcome.contact_rate, 4)),
                "minimo": dg.MetadataValue.float(config.min_taxa_contato),
                "leads": outcome.contacts["leads"],
                "com_contato": outcome.contacts["com_contato"],
            },
        ),
    ]


def _checks(outcome: PartitionOutcome, config: IngestConfig) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=name, passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
        )
        for name, passed, metadata in check_values(outcome, config)
    ]


@dg.asset(
    name="leads_ingest",
    group_name="ingest",
    partitions_def=ingest_partitions,
    kinds={"polars", "postgres"},
    pool="disparo-agenda-ingest",
    backfill_policy=dg.BackfillPolicy.multi_run(1),  # one run (one job) per partition
    description="Uma planilha de leads validada, normalizada e carregada (COPY) no PostgreSQL; "
    "uma partição por job de ingestão.",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_REJECTS, asset="leads_ingest", description="linhas rejeitadas / linhas lidas"
        ),
        dg.AssetCheckSpec(
            CHECK_CONTACT,
            asset="leads_ingest",
            description="leads do job com ao menos um telefone ou e-mail válido",
        ),
    ],
)
def leads_ingest(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    postgres: PostgresResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    key = context.partition_key
    settings.get()  # fail early on a broken environment, before anything is claimed
    last = {"t": 0.0, "done": -1}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done != last["done"] and (now - last["t"] >= 5 or done == total):
            last.update(t=now, done=done)
            context.log.info(f"{key}: {done}/{total} linhas")

    try:
        outcome = run_for_partition(
            postgres.url(),
            key,
            from_sensor=bool(context.run.tags.get(SOURCE_TAG)),
            progress=progress,
            log=context.log,
        )
    except DisparoAgendaError as exc:
        raise dg.Failure(exc.message) from None
    doc = outcome.document
    if not outcome.concluded:
        raise dg.Failure(
            description=f"job {outcome.job_id} não concluiu (status {doc['status']}): "
            f"{doc.get('mensagem_erro') or '-'}",
            metadata={"job_id": str(outcome.job_id), "status": doc["status"]},
        )
    return dg.MaterializeResult(
        metadata=materialization_metadata(outcome, key), check_results=_checks(outcome, config)
    )
