"""Ingest run coordination (pipelines.core.ingest.runs) without Dagster: which job a run of a partition
does, and that a job is ingested once whoever else holds it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from ingest_support import write_xlsx

from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError
from pipelines.core.ingest import create_job
from pipelines.core.ingest.runs import run_for_partition
from pipelines.core.ingest.surfaces import partition_key

ROWS = [
    ["id", "nome", "telefone", "email"],
    ["1", "Alfa", "11 98765-4321", ""],
    ["2", "Beta", "", "beta@beta.com.br"],
    ["3", "Gama", "", ""],  # no contact
    ["", "Sem id", "11 91234-5678", ""],  # rejected
]


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "Leads.xlsx", ROWS)


def _job(conn, tenant, sheet: Path, origem: str = "api") -> tuple:
    job_id = create_job(conn, tenant["id"], sheet.name, str(sheet), origem=origem)
    return job_id, partition_key(tenant["slug"], sheet.name, job_id)


def _jobs(conn) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT origem, status FROM ingest_jobs ORDER BY created_at").fetchall()
    return [(r["origem"], r["status"]) for r in rows]


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)

    warning = info


def test_a_pending_job_is_run_and_its_outcome_reported(conn, database_url, tenant, sheet) -> None:
    job_id, key = _job(conn, tenant, sheet)
    seen: list[tuple[int, int]] = []
    outcome = run_for_partition(
        database_url, key, from_sensor=True, progress=lambda d, t: seen.append((d, t))
    )
    assert outcome.job_id == job_id and outcome.ran and outcome.concluded
    assert outcome.document["leads_criados"] == 3 and outcome.linhas_total == 4
    assert outcome.reject_rate == 0.25
    assert outcome.contacts == {"leads": 3, "com_contato": 2}
    assert [(r["coluna"], r["linhas"], r["primeira_linha"]) for r in outcome.reject_reasons] == [
        ("lead_id_externo", 1, 5)
    ]
    assert seen[-1] == (4, 4)


def test_a_sensor_run_of_a_finished_job_only_reports_it(conn, database_url, tenant, sheet) -> None:
    job_id, key = _job(conn, tenant, sheet)
    run_for_partition(database_url, key, from_sensor=True)
    again = run_for_partition(database_url, key, from_sensor=True)
    assert again.job_id == job_id and not again.ran and again.concluded
    assert _jobs(conn) == [("api", "concluido")]


def test_a_manual_run_of_a_finished_job_reingests_the_file_as_a_new_job(
    conn, database_url, tenant, sheet
) -> None:
    job_id, key = _job(conn, tenant, sheet)
    run_for_partition(database_url, key, from_sensor=True)
    log = _Log()
    again = run_for_partition(database_url, key, from_sensor=False, log=log)
    assert again.job_id != job_id and again.ran and again.document["leads_atualizados"] == 3
    assert _jobs(conn) == [("api", "concluido"), ("dagster", "concluido")]
    assert any("reingestão" in line for line in log.lines)

    sheet.unlink()  # the stored file is gone: a clear error, no new job
    with pytest.raises(NotFoundError, match="não está mais no armazenamento"):
        run_for_partition(database_url, key, from_sensor=False)
    assert len(_jobs(conn)) == 2


def test_a_stale_processing_job_is_taken_over_as_the_same_job(conn, database_url, tenant, sheet) -> None:
    job_id, key = _job(conn, tenant, sheet)
    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() - interval '1 hour' WHERE job_id = %s",
        (job_id,),
    )
    log = _Log()
    outcome = run_for_partition(database_url, key, from_sensor=True, log=log)
    assert outcome.job_id == job_id and outcome.ran and outcome.concluded
    assert _jobs(conn) == [("api", "concluido")]
    assert any("assumindo o job" in line for line in log.lines)


def test_a_job_held_by_a_live_executor_is_waited_for_not_run_twice(conn, database_url, tenant, sheet) -> None:
    job_id, key = _job(conn, tenant, sheet)
    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() WHERE job_id = %s", (job_id,)
    )

    def other_executor_finishes() -> None:
        time.sleep(0.5)
        conn.execute(
            "UPDATE ingest_jobs SET status = 'concluido', concluido_em = now() WHERE job_id = %s", (job_id,)
        )

    finisher = threading.Thread(target=other_executor_finishes)
    finisher.start()
    outcome = run_for_partition(database_url, key, from_sensor=True, poll_s=0.1)
    finisher.join()
    assert outcome.job_id == job_id and not outcome.ran and outcome.concluded
    assert outcome.contacts["leads"] == 0  # nothing loaded by this run

    job_id, key = _job(conn, tenant, sheet)
    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() WHERE job_id = %s", (job_id,)
    )
    with pytest.raises(ConflictError, match="outro executor"):
        run_for_partition(database_url, key, from_sensor=True, wait_s=0.3, poll_s=0.1)


def test_a_partition_key_of_another_tenant_is_refused(
    conn, database_url, tenant, other_tenant, sheet
) -> None:
    job_id, _ = _job(conn, tenant, sheet)
    with pytest.raises(ValidationError, match="não pertence"):
        run_for_partition(database_url, partition_key("outra", sheet.name, job_id), from_sensor=True)
    assert _jobs(conn) == [("api", "pendente")]
