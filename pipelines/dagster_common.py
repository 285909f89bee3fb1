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
