"""Ingest run coordination: how an orchestrated run of one ingest partition (the Dagster asset
`leads_ingest`, one partition per job) gets its job done exactly once, whoever else holds it.

Several executors may reach the same job: the Dagster run a sensor launched, the API's in-process
runner, a manual re-materialization or a backfill. `run_for_partition` decides, from the job row alone,
whether this run claims the job, takes it over from a dead runner, re-ingests the stored file as a fresh
job, or only reports what someone else did — and returns what the asset shows (document, reject reasons,
contact numbers). Dagster-free: the asset is a thin shell over it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import psycopg

from pipelines.core.common.db import connection
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError
from pipelines.core.ingest.jobs import create_job, job_document, run_job
from pipelines.core.ingest.surfaces import (
    JOB_COLUMNS,
    contact_stats,
    job_id_from_partition_key,
    reject_reasons,
)

log = logging.getLogger("disparo_agenda.ingest")

# A `processando` job whose runner writes no progress for this long is taken to be dead (its process was
# killed): the orchestrator may take it over (run_job(force=True, stale_after_s=...)). A live runner writes
# progress after reading the file and after every chunk of 100k rows (seconds apart), so 15 minutes of
# silence is not a slow job.
STALE_PROCESSING_S = 900.0
# How long a run waits for another executor (the API's in-process runner) to finish the job it holds.
WAIT_OTHER_EXECUTOR_S = 3600.0


class RunLog(Protocol):
    """Where the run's messages go (Dagster's context.log, or a logging.Logger)."""

    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...


class Action(Enum):
    RUN = "run"  # claim a pendente job
    TAKEOVER = "takeover"  # claim a job left processando by a dead runner
    REPORT = "report"  # someone else ran or is running it: report its result


@dataclass(frozen=True)
class PartitionOutcome:
    """What one run of a partition did and what the job looks like at its end."""

    job_id: UUID
    tenant_id: UUID
    ran: bool  # this run executed the ingest (False: it reported another executor's result)
    document: dict[str, Any]  # the job document (as GET /ingest/leads/jobs/{job_id})
    reject_reasons: list[dict[str, Any]]
    contacts: dict[str, int]  # leads of the job, and how many have a phone or e-mail fit to send to
    duration_s: float  # wall time of this run, from claim to result

    @property
    def concluded(self) -> bool:
        return self.document["status"] == "concluido"

    @property
    def linhas_total(self) -> int:
        return self.document.get("linhas_total") or self.document.get("linhas_processadas") or 0

    @property
    def reject_rate(self) -> float:
        total = self.linhas_total
        return (self.document.get("linhas_rejeitadas") or 0) / total if total else 0.0

    @property
    def contact_rate(self) -> float:
        leads = self.contacts["leads"]
        return self.contacts["com_contato"] / leads if leads else 1.0


# --- job look-ups for the orchestrator (cross-tenant by design: Dagster serves every tenant) -------


def job_row(conn: psycopg.Connection, job_id: UUID | str) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.job_id = %s",
        (job_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"job de ingestão {job_id} não encontrado")
    return row


def pending_api_jobs(conn: psycopg.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Jobs accepted by the API that nobody has started yet, oldest first."""
    return conn.execute(
        f"""SELECT {JOB_COLUMNS} FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
            WHERE j.status = 'pendente' AND j.origem = 'api'
            ORDER BY j.created_at, j.job_id LIMIT %s""",
        (limit,),
    ).fetchall()


def rerun_job(conn: psycopg.Connection, row: dict[str, Any], *, origem: str = "dagster") -> UUID:
    """A fresh job for the same stored file: re-ingest keeps every job's history and counts intact."""
    if not row.get("arquivo_path") or not Path(row["arquivo_path"]).is_file():
        raise NotFoundError(
            f"o arquivo do job {row['job_id']} não está mais no armazenamento ({row.get('arquivo_path')})"
        )
    return create_job(
        conn,
        row["tenant_id"],
        row["arquivo_origem"],
        row["arquivo_path"],
        aba=row["aba"],
        origem=origem,
        arquivo_sha256=row.get("arquivo_sha256"),
    )


# --- one run of one partition ---------------------------------------------------------------------


def job_for_partition(
    conn: psycopg.Connection, key: str, *, from_sensor: bool, log: RunLog = log
) -> tuple[UUID, UUID, Action]:
    """(job id, tenant id, action) for a run of partition `key`.

    A sensor-launched run only ever takes its own pendente job. A manual or backfill run of a partition
    whose job already finished re-ingests the same stored file as a fresh job (the old one keeps its
    counts). A job in processando is waited for, and taken over only once idle for STALE_PROCESSING_S."""
    row = job_row(conn, job_id_from_partition_key(key))
    if not key.startswith(f"{row['slug']}/"):
        raise ValidationError(f"partição {key!r} não pertence ao tenant do job ({row['slug']})")
    if row["status"] == "pendente":
        return row["job_id"], row["tenant_id"], Action.RUN
    if row["status"] == "processando":
        stale = row["parado_s"] >= STALE_PROCESSING_S
        return row["job_id"], row["tenant_id"], Action.TAKEOVER if stale else Action.REPORT
    if from_sensor:
        # Already taken (e.g. the API ran it in-process): report it, do not ingest twice.
        return row["job_id"], row["tenant_id"], Action.REPORT
    new_id = rerun_job(conn, row)
    log.info(f"reingestão de {row['arquivo_origem']}: novo job {new_id} (partição {key})")
    return new_id, row["tenant_id"], Action.RUN


def _claim_and_run(
    url: str, job_id: UUID, *, takeover: bool, progress: Callable[[int, int], None] | None, log: RunLog
) -> bool:
    """Run the job if it can still be claimed; False when another executor got it first. Never re-runs a
    finished job (only_pending) and takes over a processando one only if it is still stale at claim time."""
    if takeover:
        log.warning(
            f"job {job_id} parado em processamento há mais de {STALE_PROCESSING_S:.0f}s; assumindo o job"
        )
    try:
        run_job(
            url,
            job_id,
            progress=progress,
            only_pending=True,
            force=takeover,
            stale_after_s=STALE_PROCESSING_S,
        )
    except ConflictError:
        return False
    return True


def _wait_for_other_executor(
    conn: psycopg.Connection,
    url: str,
    job_id: UUID,
    *,
    progress: Callable[[int, int], None] | None,
    log: RunLog,
    wait_s: float,
    poll_s: float,
) -> bool:
    """Another process (the API's in-process runner) holds the job: wait for its result instead of
    running the file twice; take it over if that process stops writing progress (it died). True when
    this run ended up running it."""
    deadline = time.monotonic() + wait_s
    logged = ran = False
    while (row := job_row(conn, job_id))["status"] == "processando":
        if row["parado_s"] >= STALE_PROCESSING_S:
            ran = _claim_and_run(url, job_id, takeover=True, progress=progress, log=log) or ran
            continue
        if time.monotonic() > deadline:
            raise ConflictError(
                f"job {job_id} segue em processamento por outro executor há mais de {wait_s:.0f}s"
            )
        if not logged:
            log.info(f"job {job_id} em processamento por outro executor; aguardando o resultado")
            logged = True
        time.sleep(poll_s)
    return ran


def run_for_partition(
    url: str,
    key: str,
    *,
    from_sensor: bool,
    progress: Callable[[int, int], None] | None = None,
    log: RunLog = log,
    wait_s: float = WAIT_OTHER_EXECUTOR_S,
    poll_s: float = 2.0,
) -> PartitionOutcome:
    """Do (or wait for) the job of partition `key` and return its outcome. Raises DisparoAgendaError when
    the partition names no job of its tenant, the stored file is gone, or another executor holds the job
    for longer than `wait_s`; a job that ends `erro` is an outcome (`concluded` False), not an error."""
    started = time.perf_counter()
    with connection(url) as conn:
        job_id, tenant_id, action = job_for_partition(conn, key, from_sensor=from_sensor, log=log)
    ran = False
    if action is not Action.REPORT:
        ran = _claim_and_run(url, job_id, takeover=action is Action.TAKEOVER, progress=progress, log=log)
    with connection(url) as conn:
        waited = _wait_for_other_executor(
            conn, url, job_id, progress=progress, log=log, wait_s=wait_s, poll_s=poll_s
        )
        return PartitionOutcome(
            job_id=job_id,
            tenant_id=tenant_id,
            ran=ran or waited,
            document=job_document(conn, tenant_id, job_id),
            reject_reasons=reject_reasons(conn, tenant_id, job_id),
            contacts=contact_stats(conn, tenant_id, job_id),
            duration_s=time.perf_counter() - started,
        )
