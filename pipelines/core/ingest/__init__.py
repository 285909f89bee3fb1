"""Lead ingest core: read a sheet, validate (pandera), normalize (polars), COPY + set-based upsert.

No dagster here: the CLI, the Dagster assets and api_lite call these functions."""

from pipelines.core.ingest.jobs import (
    ORIGENS,
    create_job,
    job_document,
    list_jobs,
    list_rejects,
    rejects_csv,
    run_job,
)
from pipelines.core.ingest.pipeline import Prepared, prepare
from pipelines.core.ingest.reader import SUPPORTED_SUFFIXES, RawSheet, check_supported, read_sheet

__all__ = [
    "ORIGENS",
    "SUPPORTED_SUFFIXES",
    "Prepared",
    "RawSheet",
    "check_supported",
    "create_job",
    "job_document",
    "list_jobs",
    "list_rejects",
    "prepare",
    "read_sheet",
    "rejects_csv",
    "run_job",
]
