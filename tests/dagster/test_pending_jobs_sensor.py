"""The sensor of pending ingest jobs: every pending job of any origin is launched (or, when runs keep
failing to take it, failed and reported), never twice while a run is on it; a job whose runner died is
resumed, and failed with the reason after MAX_TENTATIVAS."""

from __future__ import annotations

import dagster as dg

from pipelines.core.ingest.runs import MAX_TENTATIVAS
from pipelines.core.ingest.surfaces import PARTITIONS_NAME
from pipelines.dagster_common import INGEST_JOB_TAG, KIND_TAG, SOURCE_TAG
from sensors.ingest import MAX_LOST_RUNS, pending_ingest_jobs_sensor
from tests.dagster.test_ingest_dagster import _api_job, _materialize, _meta, _xlsx


def _tick(instance, resources) -> dg.SensorResult:
    return pending_ingest_jobs_sensor(dg.build_sensor_context(instance=instance, resources=resources))


def _age(conn, job_id, seconds: int, status: str = "pendente") -> None:
    conn.execute(
        "UPDATE ingest_jobs SET status = %s, updated_at = now() - make_interval(secs => %s) WHERE job_id = %s",
        (status, seconds, job_id),
    )


def _job(conn, job_id) -> dict:
    return conn.execute(
        "SELECT status, mensagem_erro, tentativas FROM ingest_jobs WHERE job_id = %s", (job_id,)
    ).fetchone()


def _run_for(instance, req: dg.RunRequest, status: dg.DagsterRunStatus) -> None:
    from pipelines.definitions import defs

    instance.create_run_for_job(
        defs.resolve_job_def("leads_ingest_job"),
        tags={**req.tags, "dagster/partition": req.partition_key},
        status=status,
    )


def test_pending_jobs_of_every_origin_are_launched_once(conn, tenant, resources, instance) -> None:
    api_id, api_key = _api_job(conn, tenant, _xlsx())
    lost_id, lost_key = _api_job(
        conn, tenant, _xlsx([["8", "Inbox", "", ""]]), name="inbox.xlsx", origem="inbox"
    )
    _age(conn, lost_id, 120)  # the inbox sensor made it two minutes ago, its run request was lost
    fresh_id, _ = _api_job(conn, tenant, _xlsx([["9", "CLI", "", ""]]), name="cli.xlsx", origem="cli")

    result = _tick(instance, resources)
    by_job = {r.tags[INGEST_JOB_TAG]: r for r in result.run_requests}
    assert set(by_job) == {str(api_id), str(lost_id)}  # the CLI's own job is still its to run
    assert by_job[str(lost_id)].partition_key == lost_key and by_job[str(lost_id)].tags[SOURCE_TAG] == "inbox"
    assert by_job[str(api_id)].tags[KIND_TAG] == "ingest" and by_job[str(api_id)].tags[SOURCE_TAG] == "api"
    assert set(result.dynamic_partitions_requests[0].partition_keys) == {api_key, lost_key}

    for req in result.run_requests:  # created, not started yet: the next tick must not launch them again
        _run_for(instance, req, dg.DagsterRunStatus.NOT_STARTED)
    instance.add_dynamic_partitions(PARTITIONS_NAME, [api_key, lost_key])
    assert not _tick(instance, resources).run_requests

    req = by_job[str(lost_id)]
    result = _materialize(req.partition_key, instance, resources, **req.tags)
    assert (
        result.success
        and _meta(result)["leads_criados"] == 1
        and _job(conn, lost_id)["status"] == "concluido"
    )
    assert _job(conn, fresh_id)["status"] == "pendente"


def test_a_job_runs_keep_failing_to_take_is_failed_and_reported(conn, tenant, resources, instance) -> None:
    job_id, _ = _api_job(conn, tenant, _xlsx())
    keys = set()
    for _ in range(MAX_LOST_RUNS):
        (req,) = _tick(instance, resources).run_requests
        keys.add(req.run_key)
        _run_for(instance, req, dg.DagsterRunStatus.FAILURE)  # the run died before claiming the job
    assert len(keys) == MAX_LOST_RUNS  # each relaunch has a key of its own (Dagster skips a reused one)
    result = _tick(instance, resources)
    assert not result.run_requests and f"{MAX_LOST_RUNS} runs do Dagster" in result.skip_reason.skip_message
    job = _job(conn, job_id)
    assert job["status"] == "erro" and "ingest retry" in job["mensagem_erro"]


def test_a_job_whose_runner_died_is_resumed_then_failed_with_the_reason(
    conn, tenant, resources, instance
) -> None:
    job_id, key = _api_job(conn, tenant, _xlsx())
    conn.execute("UPDATE ingest_jobs SET tentativas = 1 WHERE job_id = %s", (job_id,))
    _age(conn, job_id, 120, status="processando")  # claimed once, then no heartbeat for two minutes
    result = _tick(instance, resources)
    (req,) = result.run_requests  # back to pendente and relaunched in the same tick
    assert req.partition_key == key
    job = _job(conn, job_id)
    assert job["status"] == "pendente" and f"tentativa 2 de {MAX_TENTATIVAS}" in job["mensagem_erro"]

    conn.execute("UPDATE ingest_jobs SET tentativas = %s WHERE job_id = %s", (MAX_TENTATIVAS, job_id))
    _age(conn, job_id, 120, status="processando")  # died on its last attempt too
    result = _tick(instance, resources)
    assert not result.run_requests and str(job_id) in result.skip_reason.skip_message
    job = _job(conn, job_id)
    assert job["status"] == "erro" and f"em {MAX_TENTATIVAS} tentativas" in job["mensagem_erro"]
    assert "sem sinal" in job["mensagem_erro"] and "ingest retry" in job["mensagem_erro"]
