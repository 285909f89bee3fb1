"""What the Dagster shells share: run tags (deploy/dagster*.yaml caps concurrency on them) and the run
statuses that count as "a run is already on it" for sensors that must not pile up runs."""

from __future__ import annotations

import dagster as dg

TENANT_TAG = "disparo-agenda/tenant"
CANAL_TAG = "disparo-agenda/canal"
KIND_TAG = "disparo-agenda/kind"
# Ingest runs: the job the run is for, and which sensor launched it (a run with a source is for that very
# job: it never re-ingests a finished one; a run without one is a manual re-materialization or backfill).
INGEST_JOB_TAG = "disparo-agenda/job_id"
SOURCE_TAG = "disparo-agenda/origem"
INGEST_TAGS = {KIND_TAG: "ingest"}

ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


# Long-lived send runs (pipelines/core/send/loop.py): the sensors keep one healthy run per partition.
LOOP_START_GRACE_S = 180.0  # a run this young counts as healthy before its first heartbeat (cold start)
LOOP_HANDOVER_S = 60.0  # a successor is launched when the current run has less than this left


def loop_worker_id(run_id: str) -> str:
    """The lease owner / heartbeat row of a Dagster send run."""
    return f"dagster:{run_id}"


def loop_runs_status(
    instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], health: dict[str, dict]
) -> tuple[list[dg.DagsterRun], list[dg.DagsterRun]]:
    """(runs that cover the work now and past the handover, started runs whose heartbeat died).

    `health` is `loop_health` of the candidates' worker ids (loop_worker_id)."""
    import time

    covering, dead = [], []
    for record in instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, tags=tags, statuses=ACTIVE_RUN_STATUSES)
    ):
        run = record.dagster_run
        beat = health.get(loop_worker_id(run.run_id))
        young = time.time() - record.create_timestamp.timestamp() < LOOP_START_GRACE_S
        if beat is None or not beat["vivo"]:
            if run.status == dg.DagsterRunStatus.STARTED and not young:
                dead.append(run)
            elif young or run.status != dg.DagsterRunStatus.STARTED:
                covering.append(run)  # queued or starting: its loop is on the way
            continue
        if beat["restante_s"] is None or beat["restante_s"] > LOOP_HANDOVER_S:
            covering.append(run)
    return covering, dead


def active_run_ids(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> list[str]:
    return [
        r.dagster_run.run_id
        for r in instance.get_run_records(
            filters=dg.RunsFilter(job_name=job_name, tags=tags, statuses=ACTIVE_RUN_STATUSES)
        )
    ]
