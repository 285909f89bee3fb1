"""The ingest asset (a dynamic partition per job, metadata, checks, backfill re-ingest), against a real database, a temporary file store and a test Dagster instance."""

from __future__ import annotations

import io
import time
from typing import Any

import dagster as dg

from assets.ingest import CHECK_CONTACT, CHECK_REJECTS, IngestConfig, leads_ingest
from pipelines.core.common.settings import Settings
from pipelines.core.ingest.surfaces import PARTITIONS_NAME, partition_key
from pipelines.dagster_common import KIND_TAG, SOURCE_TAG

ROWS = [
    ["1", "Alfa Comércio Ltda", "11 98765-4321", "contato@alfa.com.br"],
    ["2", "Beta Serviços", "(21) 3333-4444 / 21 99999-8888", ""],
    ["3", "", "11 91234-5678", "sem@nome.com"],  # no nome: rejected
    ["4", "Delta ME", "", "delta@delta.com.br; financeiro@delta.com.br"],
]


def _xlsx(rows: list[list[str]] = ROWS) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["id", "nome", "telefone", "email"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _api_job(conn, tenant, content: bytes, name: str = "Leads Organizados.xlsx", origem: str = "api"):
    from pipelines.core.common.filestore import store_file
    from pipelines.core.ingest import create_job

    path, sha = store_file(Settings.from_env(), content, name)
    job_id = create_job(conn, tenant["id"], name, str(path), origem=origem, arquivo_sha256=sha)
    return job_id, partition_key(tenant["slug"], name, job_id)


def _materialize(key: str, instance, resources, **tags: str):
    instance.add_dynamic_partitions(PARTITIONS_NAME, [key])
    return dg.materialize(
        [leads_ingest],
        partition_key=key,
        instance=instance,
        resources=resources,
        tags=tags,
        raise_on_error=False,
    )


def _meta(result) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node("leads_ingest")
    return {k: v.value for k, v in mat.metadata.items()}


def test_materialize_partition_metadata_and_checks(conn, tenant, resources, instance) -> None:
    from pipelines.core.ingest.surfaces import job_id_from_partition_key

    job_id, key = _api_job(conn, tenant, _xlsx(), name="Leads Organizados (Março).xlsx")
    assert key == f"acme/leads-organizados-marco/{job_id}"  # readable, and maps back to the job
    assert job_id_from_partition_key(key) == job_id
    started = time.perf_counter()
    result = _materialize(key, instance, resources, **{SOURCE_TAG: "api", KIND_TAG: "ingest"})
    wall = time.perf_counter() - started
    assert result.success
    meta = _meta(result)
    assert meta["job_id"] == str(job_id) and meta["executado_agora"] is True
    assert meta["leads_criados"] == 3 and meta["linhas_rejeitadas"] == 1 and meta["linhas_total"] == 4
    # the ingest's own measure, as stored on the job, and within the run's wall time
    stored = conn.execute("SELECT avisos FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()
    assert 0 < meta["duracao_s"] == round(stored["avisos"]["duracao_s"], 3) < wall
    reasons = meta["motivos_rejeicao"]
    assert (
        sum(r.data["linhas"] for r in reasons.records) == 1 and reasons.records[0].data["primeira_linha"] == 4
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CHECK_REJECTS].passed is False  # 1 of 4 rows > 10 %
    assert checks[CHECK_CONTACT].passed is True  # every loaded lead has a phone or an e-mail
    assert (
        conn.execute("SELECT status FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()["status"]
        == "concluido"
    )

    # Thresholds are run config: a looser limit passes the reject-rate check.
    result = dg.materialize(
        [leads_ingest],
        partition_key=key,
        instance=instance,
        resources=resources,
        run_config=dg.RunConfig(ops={"leads_ingest": IngestConfig(max_taxa_rejeicao=0.5)}),
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CHECK_REJECTS].passed is True


def test_rematerializing_a_partition_reingests_the_file_as_a_new_job(
    conn, tenant, resources, instance
) -> None:
    job_id, key = _api_job(conn, tenant, _xlsx())
    assert _materialize(key, instance, resources, **{SOURCE_TAG: "api"}).success

    # A backfill / manual re-run (no sensor tag): fresh job of origem dagster for the same stored file.
    result = _materialize(key, instance, resources)
    assert result.success
    meta = _meta(result)
    assert meta["job_id"] != str(job_id) and meta["leads_criados"] == 0 and meta["leads_atualizados"] == 3
    jobs = conn.execute("SELECT origem, status, arquivo_path FROM ingest_jobs ORDER BY created_at").fetchall()
    assert [(j["origem"], j["status"]) for j in jobs] == [("api", "concluido"), ("dagster", "concluido")]
    assert jobs[0]["arquivo_path"] == jobs[1]["arquivo_path"]
    assert conn.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 3

    # A sensor-launched run of a job someone already ran (e.g. the API in-process) does not ingest twice.
    result = _materialize(key, instance, resources, **{SOURCE_TAG: "api"})
    assert result.success and _meta(result)["executado_agora"] is False
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 2


def test_a_bad_file_fails_the_run_and_the_job_says_why(conn, tenant, resources, instance) -> None:
    job_id, key = _api_job(conn, tenant, b"PK\x03\x04 nao e um xlsx de verdade", name="Quebrado.xlsx")
    result = _materialize(key, instance, resources, **{SOURCE_TAG: "api"})
    assert not result.success
    job = conn.execute(
        "SELECT status, mensagem_erro FROM ingest_jobs WHERE job_id = %s", (job_id,)
    ).fetchone()
    assert job["status"] == "erro" and job["mensagem_erro"]


def test_a_generated_messy_sheet_materializes_with_consistent_metadata(
    conn, tenant, resources, instance, tmp_path
) -> None:
    from pipelines.sample_sheet import generate

    path = generate(tmp_path / "gerada.xlsx", 400, seed=3)
    job_id, key = _api_job(conn, tenant, path.read_bytes(), name="gerada.xlsx")
    result = _materialize(key, instance, resources, **{SOURCE_TAG: "api"})
    assert result.success
    meta = _meta(result)
    assert meta["leads_criados"] > 300 and meta["linhas_rejeitadas"] > 0  # the generator adds bad rows
    assert sum(r.data["linhas"] for r in meta["motivos_rejeicao"].records) == meta["linhas_rejeitadas"]
    (contact,) = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_CONTACT]
    assert contact.metadata["leads"].value == meta["leads_criados"]
