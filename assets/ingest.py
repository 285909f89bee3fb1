"""Lead ingest as a dynamically partitioned asset: one partition per ingest job, keyed
`<tenant-slug>/<file-stem>/<job_id>`. The sensors in sensors/ingest.py add partitions and launch them;
re-materializing a partition (a backfill from the UI) re-ingests that partition's stored file as a
fresh job, so every job keeps its own counts and rejects."""

# No `from __future__ import annotations` here: Dagster resolves the Config annotation at decoration time.
import time
from typing import Any

import dagster as dg

from pipelines.core.common.errors import ConflictError, DisparoAgendaError
from pipelines.core.ingest import job_document, run_job
from pipelines.core.ingest.surfaces import (
    PARTITIONS_NAME,
    STALE_PROCESSING_S,
    contact_stats,
    job_id_from_partition_key,
    job_row,
    reject_reasons,
    rerun_job,
)
from pipelines.dagster_common import KIND_TAG
from pipelines.resources import PostgresResource, SettingsResource

SOURCE_TAG = "disparo-agenda/origem"  # set by the sensors: the run is for that very job
INGEST_TAGS = {KIND_TAG: "ingest"}

ingest_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)

CHECK_REJECTS = "taxa_de_rejeicao"
CHECK_CONTACT = "leads_com_contato_valido"
WAIT_OTHER_EXECUTOR_S = 3600


class IngestConfig(dg.Config):
    """Thresholds of the asset checks (editable in the launchpad)."""

    max_taxa_rejeicao: float = 0.10
    min_taxa_contato: float = 0.50


def _job_to_run(context: dg.AssetExecutionContext, conn: Any, key: str) -> tuple[Any, Any, str]:
    """(job id, tenant id, action) with action `run` (claim a pendente job), `takeover` (claim a job left
    processando by a dead runner) or `report` (someone else ran or is running it: report its result).

    A sensor-launched run only ever takes its own pendente job. A manual or backfill run of a partition
    whose job already finished re-ingests the same stored file as a fresh job (the old one keeps its
    counts). A job in processando is waited for, and taken over only once idle for STALE_PROCESSING_S."""
    row = job_row(conn, job_id_from_partition_key(key))
    if not key.startswith(f"{row['slug']}/"):
        raise dg.Failure(f"partição {key!r} não pertence ao tenant do job ({row['slug']})")
    if row["status"] == "pendente":
        return row["job_id"], row["tenant_id"], "run"
    if row["status"] == "processando":
        if row["parado_s"] >= STALE_PROCESSING_S:
            return row["job_id"], row["tenant_id"], "takeover"
        return row["job_id"], row["tenant_id"], "report"
    if context.run.tags.get(SOURCE_TAG):
        # Already taken (e.g. the API ran it in-process): report it, do not ingest twice.
        return row["job_id"], row["tenant_id"], "report"
    new_id = rerun_job(conn, row)
    context.log.info(f"reingestão de {row['arquivo_origem']}: novo job {new_id} (partição {key})")
    return new_id, row["tenant_id"], "run"


def _claim_and_run(
    context: dg.AssetExecutionContext, url: str, job_id: Any, *, takeover: bool, progress: Any
) -> bool:
    """Run the job if it can still be claimed; False when another executor got it first. Never re-runs a
    finished job (only_pending) and takes over a processando one only if it is still stale at claim time."""
    if takeover:
        context.log.warning(
            f"job {job_id} parado em processamento há mais de {STALE_PROCESSING_S:.0f}s; assumindo o job"
        )
    try:
        run_job(
            url,
            job_id,
            progress=progress,
            only_pending=True,
            force=takeover,
            stale_after_s=STALE_PROCESSING_S,
        )
    except ConflictError:
        return False
    return True


def _wait_for_other_executor(
    context: dg.AssetExecutionContext, conn: Any, url: str, job_id: Any, progress: Any
) -> bool:
    """Another process (the API's in-process runner) holds the job: wait for its result instead of
    running the file twice; take it over if that process stops writing progress (it died). True when
    this run ended up running it."""
    deadline = time.monotonic() + WAIT_OTHER_EXECUTOR_S
    logged = ran = False
    while (row := job_row(conn, job_id))["status"] == "processando":
        if row["parado_s"] >= STALE_PROCESSING_S:
            ran = _claim_and_run(context, url, job_id, takeover=True, progress=progress) or ran
            continue
        if time.monotonic() > deadline:
            raise dg.Failure(
                f"job {job_id} segue em processamento por outro executor há mais de {WAIT_OTHER_EXECUTOR_S}s"
            )
        if not logged:
            context.log.info(f"job {job_id} em processamento por outro executor; aguardando o resultado")
            logged = True
        time.sleep(2)
    return ran


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
    try:
        with postgres.connection() as conn:
            job_id, tenant_id, action = _job_to_run(context, conn, key)
    except DisparoAgendaError as exc:
        raise dg.Failure(exc.message) from None
    last = {"t": 0.0, "done": -1}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done != last["done"] and (now - last["t"] >= 5 or done == total):
            last.update(t=now, done=done)
            context.log.info(f"job {job_id}: {done}/{total} linhas")

    started = time.perf_counter()
    ran = False
    if action != "report":
        ran = _claim_and_run(
            context, postgres.url(), job_id, takeover=action == "takeover", progress=progress
        )
    with postgres.connection() as conn:
        ran = _wait_for_other_executor(context, conn, postgres.url(), job_id, progress) or ran
        duration = time.perf_counter() - started
        doc = job_document(conn, tenant_id, job_id)
        reasons = reject_reasons(conn, tenant_id, job_id)
        contacts = contact_stats(conn, tenant_id, job_id)
    if doc["status"] != "concluido":
        raise dg.Failure(
            description=f"job {job_id} não concluiu (status {doc['status']}): {doc.get('mensagem_erro') or '-'}",
            metadata={"job_id": str(job_id), "status": doc["status"]},
        )
    total = doc.get("linhas_total") or doc.get("linhas_processadas") or 0
    rejected = doc.get("linhas_rejeitadas") or 0
    reject_rate = rejected / total if total else 0.0
    leads = contacts["leads"]
    contact_rate = contacts["com_contato"] / leads if leads else 1.0
    metadata: dict[str, Any] = {
        "job_id": str(job_id),
        "arquivo": doc.get("arquivo_origem") or key,
        "status": doc["status"],
        "executado_agora": ran,
        "linhas_total": total,
        "linhas_processadas": doc.get("linhas_processadas") or 0,
        "linhas_rejeitadas": rejected,
        "leads_criados": doc.get("leads_criados") or 0,
        "leads_atualizados": doc.get("leads_atualizados") or 0,
        "telefones_criados": doc.get("telefones_criados") or 0,
        "emails_criados": doc.get("emails_criados") or 0,
        "duracao_s": dg.MetadataValue.float(round((doc.get("avisos") or {}).get("duracao_s") or duration, 3)),
        "avisos": dg.MetadataValue.json(doc.get("avisos") or {}),
        "motivos_rejeicao": dg.MetadataValue.table(
            records=[dg.TableRecord(dict(r)) for r in reasons],
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
    checks = [
        dg.AssetCheckResult(
            check_name=CHECK_REJECTS,
            passed=reject_rate <= config.max_taxa_rejeicao,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "taxa": dg.MetadataValue.float(round(reject_rate, 4)),
                "limite": dg.MetadataValue.float(config.max_taxa_rejeicao),
                "linhas_rejeitadas": rejected,
                "linhas_total": total,
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_CONTACT,
            passed=contact_rate >= config.min_taxa_contato,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "taxa": dg.MetadataValue.float(round(contact_rate, 4)),
                "minimo": dg.MetadataValue.float(config.min_taxa_contato),
                "leads": leads,
                "com_contato": contacts["com_contato"],
            },
        ),
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


ingest_job = dg.define_asset_job(
    "leads_ingest_job",
    selection=[leads_ingest],
    tags=INGEST_TAGS,
    description="Ingestão de uma planilha de leads (uma partição por job).",
)

defs = dg.Definitions(assets=[leads_ingest], jobs=[ingest_job])
