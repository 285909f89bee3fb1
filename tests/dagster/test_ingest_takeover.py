"""The asset and a job left `processando`: a stale one (its runner died) is taken over as the same job,
never re-ingested as a second job; a finished one is only reported by a sensor-launched run."""

from __future__ import annotations

from pipelines.dagster_common import SOURCE_TAG
from tests.dagster.test_ingest_dagster import _api_job, _materialize, _meta, _xlsx


def test_stale_processing_job_is_taken_over_not_duplicated(conn, tenant, resources, instance) -> None:
    job_id, key = _api_job(conn, tenant, _xlsx())
    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() - interval '1 hour' WHERE job_id = %s",
        (job_id,),
    )
    result = _materialize(key, instance, resources)
    assert result.success
    meta = _meta(result)
    assert meta["job_id"] == str(job_id) and meta["executado_agora"] is True and meta["leads_criados"] == 3
    n = conn.execute("SELECT count(*) AS n FROM ingest_jobs WHERE tenant_id = %s", (tenant["id"],)).fetchone()
    assert n["n"] == 1

    # The sensor's run for a job someone else already finished reports it without running it again.
    started = conn.execute("SELECT iniciado_em FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()
    result = _materialize(key, instance, resources, **{SOURCE_TAG: "api"})
    assert result.success and _meta(result)["executado_agora"] is False
    again = conn.execute("SELECT iniciado_em FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()
    assert again == started
