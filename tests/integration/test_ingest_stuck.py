"""Stuck ingests: a live runner heartbeats even while it writes no progress; a killed one's job is found
stale, resumed and finished; a runner that lost its job writes nothing; `ingest retry` and
`POST /ingest/leads/jobs/{job_id}/retry` run a failed or abandoned job again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ingest_support import write_xlsx

from pipelines.core.ingest import create_job, run_job
from pipelines.core.ingest.jobs import JobLostError
from pipelines.core.ingest.runs import rescue_stale_jobs

ROOT = Path(__file__).resolve().parents[2]
ROWS = [["id", "nome", "telefone"], ["1", "Alfa", "11 98765-4321"], ["2", "Beta", "11 91234-5678"]]


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "Leads.xlsx", ROWS)


def _job(conn, job_id) -> dict:
    return conn.execute(
        "SELECT status, mensagem_erro, tentativas, updated_at, execucao_id FROM ingest_jobs WHERE job_id = %s",
        (job_id,),
    ).fetchone()


def _leads(conn, tenant) -> int:
    return conn.execute("SELECT count(*) AS n FROM leads WHERE tenant_id = %s", (tenant["id"],)).fetchone()[
        "n"
    ]


def _wait(predicate, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_killed_runner_is_found_stale_resumed_and_finished(conn, database_url, tenant, sheet) -> None:
    job_id = create_job(conn, tenant["id"], sheet.name, str(sheet), origem="api")
    # A runner that read the file and then hangs (no progress writes): only its heartbeat shows it alive.
    runner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pipelines.core.ingest import jobs
            jobs.HEARTBEAT_S = 0.2
            jobs.run_job({database_url!r}, {str(job_id)!r}, progress=lambda done, total: time.sleep(3600))
        """)],
        cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        _wait(lambda: _job(conn, job_id)["status"] == "processando")
        first = _job(conn, job_id)["updated_at"]
        time.sleep(1.5)
        assert _job(conn, job_id)["updated_at"] > first  # heartbeats with no progress at all
        assert rescue_stale_jobs(conn, stale_after_s=1.0) == []  # alive: not stale
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()

    time.sleep(1.5)  # no heartbeat any more
    (rescued,) = rescue_stale_jobs(conn, stale_after_s=1.0)
    assert rescued["job_id"] == job_id and rescued["status"] == "pendente"
    job = _job(conn, job_id)
    assert (
        job["status"] == "pendente"
        and "sem sinal" in job["mensagem_erro"]
        and "tentativa 2" in job["mensagem_erro"]
    )
    doc = run_job(database_url, job_id, only_pending=True)  # whoever launches pending jobs
    assert doc["status"] == "concluido" and doc["mensagem_erro"] is None and _leads(conn, tenant) == 2
    assert _job(conn, job_id)["tentativas"] == 2


def test_a_runner_that_lost_its_job_writes_nothing(conn, database_url, tenant, sheet) -> None:
    job_id = create_job(conn, tenant["id"], sheet.name, str(sheet), origem="api")

    def taken_over_meanwhile(done: int, total: int) -> None:
        # While this runner was silent, its job was found stale and claimed by another runner.
        conn.execute("UPDATE ingest_jobs SET execucao_id = gen_random_uuid() WHERE job_id = %s", (job_id,))

    with pytest.raises(JobLostError, match="assumido por outro executor"):
        run_job(database_url, job_id, progress=taken_over_meanwhile)
    job = _job(conn, job_id)
    assert job["status"] == "processando" and job["mensagem_erro"] is None  # the new runner's, untouched
    assert _leads(conn, tenant) == 0  # the load rolled back


def test_cli_retry_runs_a_failed_or_abandoned_job_again(
    cli, conn, database_url, tenant, other_tenant, sheet
) -> None:
    job_id = str(create_job(conn, tenant["id"], sheet.name, str(sheet), origem="inbox"))
    conn.execute(
        "UPDATE ingest_jobs SET status = 'erro', mensagem_erro = 'x', tentativas = 3 WHERE job_id = %s",
        (job_id,),
    )
    code, out, err = cli("ingest", "retry", job_id, "--json")
    assert code == 0, err
    assert '"status": "concluido"' in out and _leads(conn, tenant) == 2

    code, _, err = cli("ingest", "retry", job_id)
    assert code != 0 and err.startswith("erro: o job") and "já foi concluído" in err

    conn.execute(
        "UPDATE ingest_jobs SET status = 'processando', updated_at = now() WHERE job_id = %s", (job_id,)
    )
    code, _, err = cli("ingest", "retry", job_id)
    assert code != 0 and "está em processamento" in err  # alive: not stolen from its runner
    conn.execute(
        "UPDATE ingest_jobs SET updated_at = now() - interval '5 minutes' WHERE job_id = %s", (job_id,)
    )
    code, _, err = cli("ingest", "retry", job_id, "--tenant", "outra")
    assert code != 0 and "não encontrado" in err  # another tenant's job
    code, out, err = cli("ingest", "retry", job_id)  # its runner died: run it here
    assert code == 0, err
    assert _job(conn, job_id)["status"] == "concluido"

    code, _, err = cli("ingest", "retry", "00000000-0000-0000-0000-000000000000")
    assert code != 0 and "não encontrado" in err


def test_api_retry(api_client, conn, tenant, other_tenant, sheet) -> None:
    job_id = str(create_job(conn, tenant["id"], sheet.name, str(sheet), origem="api"))
    conn.execute("UPDATE ingest_jobs SET status = 'erro', mensagem_erro = 'x' WHERE job_id = %s", (job_id,))
    assert (
        api_client.post(f"/ingest/leads/jobs/{job_id}/retry", headers=other_tenant["headers"]).status_code
        == 404
    )

    r = api_client.post(f"/ingest/leads/jobs/{job_id}/retry", headers=tenant["headers"])
    assert r.status_code == 202 and r.json() == {"job_id": job_id, "status": "accepted", "execucao": "inline"}
    _wait(lambda: _job(conn, job_id)["status"] == "concluido")

    again = api_client.post(f"/ingest/leads/jobs/{job_id}/retry", headers=tenant["headers"])
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert "já foi concluído" in again.json()["detail"]
