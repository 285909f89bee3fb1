"""The lead-ingest job: materializes one partition (one ingest job) of assets/ingest.py's `leads_ingest`.
sensors/ingest.py launches it for dropped files and API uploads."""

import dagster as dg

from assets.ingest import leads_ingest
from pipelines.dagster_common import INGEST_TAGS

JOB_NAME = "leads_ingest_job"

ingest_job = dg.define_asset_job(
    JOB_NAME,
    selection=[leads_ingest],
    tags=INGEST_TAGS,
    description="Ingestão de uma planilha de leads (uma partição por job).",
)
