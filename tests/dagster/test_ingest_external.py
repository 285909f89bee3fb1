"""Ingests run outside Dagster (CLI, the API's in-process runner) show up on `leads_ingest`: the sensor
adds the job's partition and records its materialization, checks (or, for a failed job, an observation)
once; jobs a Dagster run took are left to that run; a reported partition re-runs like any other."""

from __future__ import annotations

import dagster as dg

from pipelines.core.ingest.surfaces import PARTITIONS_NAME, partition_key
from pipelines.dagster_common import INGEST_JOB_TAG, SOURCE_TAG
from sensors.ingest import ingest_fora_do_dagster
from tests.dagster.test_ingest_dagster import _api_job, _materialize, _meta, _xlsx

KEY = dg.AssetKey("leads_ingest")


def _tick(instance, resources, cursor: str | None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
    return ingest_fora_do_dagster(ctx)


def _materializations(instance, key: str) -> list[dg.AssetMaterialization]:
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=KEY, asset_partitions=[key]), limit=10
    )
    return [r.asset_materialization for r in result.records]


def test_cli_ingest_is_reported_once_with_metadata_and_checks(
    cli, conn, tenant, resources, instance, tmp_path
) -> None:
    sheet = tmp_path / "Clientes Maio.xlsx"
    sheet.write_bytes(_xlsx())
    code, _, err = cli("ingest", str(sheet), "--tenant", tenant["slug"])
    assert code == 0, err
    job_id = conn.execute("SELECT job_id FROM ingest_jobs WHERE origem = 'cli'").fetchone()["job_id"]
    key = partition_key(tenant["slug"], sheet.name, job_id)

    first = _tick(instance, resources, None)
    assert instance.has_dynamic_partition(PARTITIONS_NAME, key)
    (mat,) = _materializations(instance, key)
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["job_id"] == str(job_id) and meta["origem"] == "cli" and meta["status"] == "concluido"
    assert meta["linhas_rejeitadas"] == 1 and meta["leads_criados"] == 3
    checks = {
        name: instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(KEY, name)]
        )
        for name in ("taxa_de_rejeicao", "leads_com_contato_valido")
    }
    assert all(checks.values())

    # the next tick (from the cursor) and a tick from scratch report nothing twice
    second = _tick(instance, resources, first.cursor)
    assert "nenhuma" in second.skip_reason.skip_message
    _tick(instance, resources, None)
    assert len(_materializations(instance, key)) == 1

    # the reported partition re-runs from the UI like any other: a fresh job over the stored file
    rerun = _materialize(key, instance, resources)
    assert rerun.success
    new = _meta(rerun)
    assert new["job_id"] != str(job_id) and new["status"] == "concluido"


def test_jobs_of_dagster_runs_are_left_to_them_and_failed_jobs_are_observed(
    conn, tenant, resources, instance
) -> None:
    ran_id, ran_key = _api_job(conn, tenant, _xlsx(), name="pelo dagster.xlsx")
    assert _materialize(
        ran_key, instance, resources, **{INGEST_JOB_TAG: str(ran_id), SOURCE_TAG: "api"}
    ).success
    broken_id, broken_key = _api_job(conn, tenant, b"id;nome\n1;x\n", name="quebrada.xlsx", origem="cli")
    conn.execute(
        "UPDATE ingest_jobs SET status = 'erro', mensagem_erro = 'arquivo corrompido', concluido_em = now() "
        "WHERE job_id = %s",
        (broken_id,),
    )

    result = _tick(instance, resources, None)
    assert broken_key in result.skip_reason.skip_message and ran_key not in result.skip_reason.skip_message
    assert len(_materializations(instance, ran_key)) == 1  # the run's own, not a second one
    assert instance.has_dynamic_partition(PARTITIONS_NAME, broken_key)
    assert _materializations(instance, broken_key) == []
    obs = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=KEY, asset_partitions=[broken_key]), limit=5
    ).records
    assert [o.asset_observation.metadata["mensagem_erro"].value for o in obs] == ["arquivo corrompido"]
