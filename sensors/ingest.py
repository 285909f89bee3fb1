"""Sensors that start lead ingests: the inbox drop folder (inbox/<tenant-slug>/) and jobs accepted by
the HTTP API. Both add the job's dynamic partition and launch `leads_ingest_job` (pipelines/jobs/ingest.py)
for it."""

from __future__ import annotations

import json

import dagster as dg

from assets.ingest import ingest_partitions
from pipelines.core.ingest.inbox import WATCH_S, scan_inbox
from pipelines.core.ingest.runs import pending_api_jobs
from pipelines.core.ingest.surfaces import PARTITIONS_NAME, partition_key
from pipelines.dagster_common import INGEST_JOB_TAG, INGEST_TAGS, SOURCE_TAG, TENANT_TAG
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


@dg.sensor(
    job_name=JOB_NAME,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Jobs aceitos por POST /ingest/leads/xlsx ainda pendentes: dispara a ingestão (run key = job_id).",
)
def api_ingest_jobs_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    # No cursor: `status = 'pendente'` (indexed) is the work list and the job id as run key makes a
    # job that stays pendente while its run is queued harmless to see again.
    with postgres.connection() as conn:
        rows = pending_api_jobs(conn)
    if not rows:
        return dg.SensorResult(skip_reason="nenhum job pendente da API")
    keys = [partition_key(r["slug"], r["arquivo_origem"], r["job_id"]) for r in rows]
    new_keys = [k for k in keys if not context.instance.has_dynamic_partition(PARTITIONS_NAME, k)]
    requests = [
        dg.RunRequest(
            run_key=str(r["job_id"]),
            partition_key=k,
            tags={**INGEST_TAGS, SOURCE_TAG: "api", TENANT_TAG: r["slug"], INGEST_JOB_TAG: str(r["job_id"])},
        )
        for r, k in zip(rows, keys, strict=True)
    ]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[ingest_partitions.build_add_request(new_keys)] if new_keys else [],
    )
