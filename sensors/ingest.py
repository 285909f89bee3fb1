"""Sensors that start lead ingests: the inbox drop folder (inbox/<tenant-slug>/), and every pending job of
any origin (API uploads, inbox jobs whose run request was lost, jobs resumed after their runner died).
Both add the job's dynamic partition and launch `leads_ingest_job` (pipelines/jobs/ingest.py) for it.
A third one reports to the instance the ingests that ran outside Dagster (CLI, the API's in-process
runner, the demo), so every job is a partition of `leads_ingest` with its materialization."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from assets.ingest import IngestConfig, check_values, ingest_partitions, materialization_metadata
from pipelines.core.ingest.inbox import WATCH_S, scan_inbox
from pipelines.core.ingest.runs import (
    fail_pending_job,
    finished_jobs_since,
    job_outcome,
    pending_jobs,
    rescue_stale_jobs,
)
from pipelines.core.ingest.surfaces import PARTITIONS_NAME, partition_key
from pipelines.dagster_common import ACTIVE_RUN_STATUSES, INGEST_JOB_TAG, INGEST_TAGS, SOURCE_TAG, TENANT_TAG
from pipelines.jobs.ingest import JOB_NAME
from pipelines.resources import PostgresResource, SettingsResource

# The daemon evaluates sensors at most every 5 s whatever the interval says (dagster's sensor loop), so
# each tick watches the folder for a few seconds: a finished file is taken within ~1 s of its last write
# while the tick watches, and within ~STABLE_S of the next tick otherwise.
INBOX_WATCH_S = WATCH_S


@dg.sensor(
    job_name=JOB_NAME,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Planilhas soltas em inbox/<tenant>/: espera o arquivo terminar de ser escrito (tamanho e "
    "data estáveis por 1 s; .xlsx/.ods com o zip completo), cria o job, move o arquivo para processados/ "
    "e dispara a ingestão (run key = sha256 do conteúdo).",
)
def inbox_ingest_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: SettingsResource
) -> dg.SensorResult:
    # Cursor: files still being watched with their size/mtime and when they were first seen so (a file
    # unchanged since the previous tick is known stable at once), and the newest mtime/name taken.
    # Taken files leave the folder; the content hash as run key and the job table are what guarantee a
    # file is never ingested twice.
    state = json.loads(context.cursor) if context.cursor else {}
    with postgres.connection() as conn:
        scan = scan_inbox(
            conn,
            settings.get(),
            observed=state.get("observados"),
            newest=state.get("ultimo"),
            watch_s=INBOX_WATCH_S,
            log_fn=context.log.info,
        )
    cursor = json.dumps({"observados": scan.observed, "ultimo": scan.newest}, sort_keys=True)
    requests = [
        dg.RunRequest(
            run_key=f"inbox/{a.slug}/{a.sha256}",
            partition_key=a.partition_key,
            tags={**INGEST_TAGS, SOURCE_TAG: "inbox", TENANT_TAG: a.slug, INGEST_JOB_TAG: str(a.job_id)},
        )
        for a in scan.accepted
    ]
    if not requests:
        return dg.SensorResult(skip_reason=scan.summary(), cursor=cursor)
    return dg.SensorResult(
        run_requests=requests,
        cursor=cursor,
        dynamic_partitions_requests=[
            ingest_partitions.build_add_request([a.partition_key for a in scan.accepted])
        ],
    )


# Runs that ended without taking their pendente job (failed at start, canceled) before the job is
# failed and reported instead of launched again.
MAX_LOST_RUNS = 3
CLOCK_SLACK_S = 5.0  # run times come from Dagster's clock, job times from PostgreSQL's


@dg.sensor(
    job_name=JOB_NAME,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Jobs de ingestão pendentes de qualquer origem (API, inbox, CLI, Dagster) sem run ativo: "
    "dispara a ingestão. Jobs parados (sem sinal há 60 s) voltam a pendente e são retomados (até 3 "
    "tentativas) ou encerrados com o motivo; um job que 3 runs não conseguem pegar é encerrado e relatado.",
)
def pending_ingest_jobs_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    # No cursor: `status = 'pendente'` (indexed) is the work list. A job is launched when no run created
    # since it became pendente is queued or running; the run key names that episode and attempt.
    notes: list[str] = []
    requests: list[dg.RunRequest] = []
    with postgres.connection() as conn:
        for job in rescue_stale_jobs(conn):
            notes.append(f"job {job['job_id']}: {job['mensagem_erro']}")
            context.log.warning(notes[-1])
        for job in pending_jobs(conn):
            job_id = str(job["job_id"])
            since = datetime.fromtimestamp(job["mudou_em"] - CLOCK_SLACK_S, UTC)
            runs = context.instance.get_run_records(
                filters=dg.RunsFilter(job_name=JOB_NAME, tags={INGEST_JOB_TAG: job_id}, created_after=since)
            )
            if any(r.dagster_run.status in ACTIVE_RUN_STATUSES for r in runs):
                continue  # queued or running: it will take the job
            if len(runs) >= MAX_LOST_RUNS:
                last = runs[0].dagster_run
                message = (
                    f"{len(runs)} runs do Dagster terminaram sem processar o job (último: {last.run_id}, "
                    f"{last.status.value}); veja o run na UI e use `disparo-agenda ingest retry {job_id}`"
                )
                if fail_pending_job(conn, job_id, message):
                    notes.append(f"job {job_id}: {message}")
                    context.log.error(notes[-1])
                continue
            key = partition_key(job["slug"], job["arquivo_origem"], job_id)
            requests.append(
                dg.RunRequest(
                    run_key=f"{job_id}:{job['mudou_em']:.0f}:{len(runs)}",
                    partition_key=key,
                    tags={
                        **INGEST_TAGS,
                        SOURCE_TAG: job["origem"],
                        TENANT_TAG: job["slug"],
                        INGEST_JOB_TAG: job_id,
                    },
                )
            )
    if not requests:
        return dg.SensorResult(skip_reason="; ".join(notes) or "nenhum job pendente sem run")
    new_keys = [
        r.partition_key
        for r in requests
        if not context.instance.has_dynamic_partition(PARTITIONS_NAME, r.partition_key)
    ]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[ingest_partitions.build_add_request(new_keys)] if new_keys else [],
    )


# A job's end time is its last transaction's start (a big sheet's load can take minutes), so each tick
# looks back this far before the newest end it handled; the cursor remembers the jobs handled within it.
EXTERNAL_LOOKBACK_S = 3600.0
EXTERNAL_BATCH = 200
LEADS_INGEST = dg.AssetKey("leads_ingest")


def _report_external_job(instance: dg.DagsterInstance, conn, job: dict, key: str) -> None:
    """Add the job's partition and record what it did, as if a run of the asset had done it."""
    if not instance.has_dynamic_partition(PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(PARTITIONS_NAME, [key])
    if job["status"] != "concluido":
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=LEADS_INGEST,
                partition=key,
                description=f"job de ingestão ({job['origem']}) terminou em erro fora do Dagster; "
                "re-materialize a partição para ingerir o arquivo de novo",
                metadata={
                    "job_id": str(job["job_id"]),
                    "status": job["status"],
                    "origem": job["origem"],
                    "mensagem_erro": job["mensagem_erro"] or "-",
                },
            )
        )
        return
    outcome = job_outcome(conn, job["tenant_id"], job["job_id"], ran=True, duration_s=0.0)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=LEADS_INGEST,
            partition=key,
            description=f"ingestão feita fora do Dagster (origem {job['origem']})",
            metadata=materialization_metadata(outcome, key),
        )
    )
    for name, passed, metadata in check_values(outcome, IngestConfig()):
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=LEADS_INGEST,
                check_name=name,
                passed=passed,
                metadata=metadata,
                severity=dg.AssetCheckSeverity.WARN,
                partition=key,
            )
        )


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingestões feitas fora do Dagster (CLI, API sem Dagster, demo): cria a partição do job em "
    "leads_ingest e registra a materialização com os números do job e os asset checks (um job em erro "
    "vira uma observação), para que a UI mostre toda ingestão e um backfill possa refazer qualquer uma.",
)
def ingest_fora_do_dagster(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    # Cursor: the newest end time handled and the jobs handled within EXTERNAL_LOOKBACK_S of it. A job a
    # Dagster run is still on is left for a later tick; one a run took (its tag) is that run's to report.
    state = json.loads(context.cursor) if context.cursor else {}
    newest = float(state.get("ate", 0.0))
    seen: dict[str, float] = state.get("vistos", {})
    reported: list[str] = []
    deferred: list[float] = []
    with postgres.connection() as conn:
        jobs = finished_jobs_since(
            conn, after=newest - EXTERNAL_LOOKBACK_S, exclude=list(seen), limit=EXTERNAL_BATCH
        )
        for job in jobs:
            job_id = str(job["job_id"])
            runs = context.instance.get_run_records(
                filters=dg.RunsFilter(job_name=JOB_NAME, tags={INGEST_JOB_TAG: job_id}), limit=5
            )
            if any(r.dagster_run.status in ACTIVE_RUN_STATUSES for r in runs):
                deferred.append(job["terminou_em"])
                continue
            seen[job_id] = job["terminou_em"]
            newest = max(newest, job["terminou_em"])
            if runs:
                continue  # a run of leads_ingest_job took it and recorded it
            key = partition_key(job["slug"], job["arquivo_origem"], job_id)
            done = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=LEADS_INGEST, asset_partitions=[key]), limit=1
            )
            if done.records:
                continue
            _report_external_job(context.instance, conn, job, key)
            reported.append(f"{key} ({job['origem']}, {job['status']})")
    if deferred:  # come back to them: never move past a job a run is still on
        newest = min(newest, min(deferred) - 1.0)
    seen = {k: t for k, t in seen.items() if t > newest - EXTERNAL_LOOKBACK_S}
    cursor = json.dumps({"ate": newest, "vistos": seen}, sort_keys=True)
    for line in reported:
        context.log.info(f"registrada ingestão feita fora do Dagster: {line}")
    if not reported:
        return dg.SensorResult(skip_reason="nenhuma ingestão nova feita fora do Dagster", cursor=cursor)
    return dg.SensorResult(
        skip_reason=f"{len(reported)} ingestões registradas: " + "; ".join(reported[:10]), cursor=cursor
    )
