"""Who may claim an ingest job: automated callers only take `pendente` jobs (no double ingest when the
API's in-process runner and the Dagster sensor's run race), and a stuck `processando` job is taken over
only when asked to and when it is stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import write_xlsx

from api_lite.routes.ingest import _run_inline
from pipelines.core.common.errors import ConflictError
from pipelines.core.ingest import create_job, job_document, run_job
from pipelines.core.ingest.surfaces import reject_reasons


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_xlsx(
        tmp_path / "Leads.xlsx",
        [["id", "nome", "telefone"], ["1", "Alfa", "11 98765-4321"], ["2", "Beta", ""], ["", "Sem id", ""]],
    )


def _state(conn, job_id) -> tuple:
    row = conn.execute("SELECT status, iniciado_em FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()
    return row["status"], row["iniciado_em"]


def test_only_pending_never_reclaims_a_finished_job(conn, database_url, tenant, small) -> None:
    job_id = create_job(conn, tenant["id"], small.name, str(small), origem="api")
    assert run_job(database_url, job_id, only_pending=True)["status"] == "concluido"
    before = _state(conn, job_id)
    with pytest.raises(ConflictError, match="já terminou"):
        run_job(database_url, job_id, only_pending=True)
    _run_inline(database_url, job_id)  # the API's runner arriving after the Dagster run: a no-op
    assert _state(conn, job_id) == before
    conn.execute("UPDATE ingest_jobs SET status = 'erro' WHERE job_id = %s", (job_id,))
    with pytest.raises(ConflictError):
        run_job(database_url, job_id, only_pending=True)
    # A deliberate re-run (CLI, default) still replaces the result.
    assert run_job(database_url, job_id)["status"] == "concluido"
    assert _state(conn, job_id)[1] > before[1]


def test_force_takes_over_only_a_stale_processing_job(conn, database_url, tenant, small) -> None:
    job_id = create_job(conn, tenant["id"], small.name, str(small), origem="api")
    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() WHERE job_id = %s", (job_id,)
    )
    with pytest.raises(ConflictError, match="em processamento"):
        run_job(database_url, job_id, only_pending=True, force=True, stale_after_s=600)
    conn.execute(
        "UPDATE ingest_jobs SET updated_at = now() - interval '11 minutes' WHERE job_id = %s", (job_id,)
    )
    doc = run_job(database_url, job_id, only_pending=True, force=True, stale_after_s=600)
    assert doc["status"] == "concluido" and doc["leads_criados"] == 2


def test_reject_reasons_group_duplicates_in_one_row(conn, database_url, tenant, tmp_path) -> None:
    rows = [["id", "nome"], ["1", "A"], ["1", "B"], ["2", "C"], ["1", "D"], ["2", "E"], ["", "F"]]
    path = write_xlsx(tmp_path / "dups.xlsx", rows)
    job_id = create_job(conn, tenant["id"], path.name, str(path))
    assert run_job(database_url, job_id)["linhas_rejeitadas"] == 4
    reasons = reject_reasons(conn, tenant["id"], job_id)
    assert [(r["motivo"], r["linhas"], r["primeira_linha"]) for r in reasons] == [
        ("lead_id_externo duplicado no arquivo", 3, 3),
        ("lead_id_externo ausente", 1, 7),
    ]
    erros = job_document(conn, tenant["id"], job_id)["erros"]
    assert sum(r["linhas"] for r in reasons) == sum(e["quantidade"] for e in erros)
