"""Ingest run coordination: how every job gets done exactly once, whoever holds it and whatever died.

Several executors may reach the same job: the Dagster run a sensor launched, the API's in-process
runner, a manual re-materialization or a backfill. `run_for_partition` decides, from the job row alone,
whether this run claims the job, takes it over from a dead runner, re-ingests the stored file as a fresh
job, or only reports what someone else did — and returns what the asset shows (document, reject reasons,
contact numbers).

Jobs nobody is running are found here too: `rescue_stale_jobs` puts a `processando` job whose runner
stopped heartbeating (jobs.STALE_AFTER_S) back to `pendente` — or, after MAX_TENTATIVAS claims, fails
it with the reason — and `pending_jobs` lists every `pendente` job of any origin for the sensor that
launches them. `retry_job` is the manual way (CLI `ingest retry`, API `POST …/retry`). Dagster-free:
the asset and sensors are thin shells over it."""

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
from pipelines.core.common.queries import query
from pipelines.core.ingest.jobs import STALE_AFTER_S, create_job, job_document, run_job
from pipelines.core.ingest.surfaces import (
    contact_stats,
    job_id_from_partition_key,
    reject_reasons,
)

log = logging.getLogger("disparo_agenda.ingest")

# A `processando` job whose runner has not heartbeated for this long lost its runner (the process was
# killed): it may be taken over (run_job(force=True, stale_after_s=...)) or resumed. A live runner beats
# every jobs.HEARTBEAT_S whatever it is doing (reading a big sheet included).
STALE_PROCESSING_S = STALE_AFTER_S
# Claims of one job before a runner that keeps dying (a sheet that exhausts memory, say) is failed for good.
MAX_TENTATIVAS = 3
# A job of another origin than the API is launched by the sensor of pending jobs only after this long:
# its own surface (the inbox sensor's run, the CLI, a re-materialization) claims it well before.
PENDING_GRACE_S = 30.0
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
    row = conn.execute(query("ingest", "job_row"), {"id": job_id}).fetchone()
    if row is None:
        raise NotFoundError(f"job de ingestão {job_id} não encontrado")
    return row


def pending_jobs(
    conn: psycopg.Connection, *, grace_s: float = PENDING_GRACE_S, limit: int = 100
) -> list[dict]:
    """`pendente` jobs of every origin that nobody has started, oldest first: the API's at once, the
    others once `grace_s` old (their own surface had time to claim them). Each row also has
    `tentativas` (claims so far) and `mudou_em` (epoch seconds of its last change)."""
    return conn.execute(query("ingest", "pending_jobs"), {"grace": grace_s, "limit": limit}).fetchall()


def rescue_stale_jobs(
    conn: psycopg.Connection, *, stale_after_s: float = STALE_AFTER_S, max_tentativas: int = MAX_TENTATIVAS
) -> list[dict[str, Any]]:
    """Jobs left `processando` by a runner that stopped heartbeating: back to `pendente` (resumed by
    whoever launches pending jobs) while claims remain, else `erro`; each with the reason in
    `mensagem_erro`. One statement: a job is rescued once even if two rescuers run."""
    silent = f"sem sinal do processo que o executava há mais de {stale_after_s:.0f} s"
    resumed = f"{silent}; devolvido para pendente e retomado automaticamente (tentativa %s de %s)"
    failed = (
        f"{silent}, em %s tentativas; job encerrado. Corrija a causa (ex.: memória) e use "
        "`disparo-agenda ingest retry %s` ou POST /ingest/leads/jobs/%s/retry"
    )
    return conn.execute(
        query("ingest", "rescue_stale_jobs"),
        {"max": max_tentativas, "stale": stale_after_s, "resumed": resumed, "failed": failed},
    ).fetchall()


def fail_pending_job(conn: psycopg.Connection, job_id: UUID | str, message: str) -> bool:
    """Give up on a `pendente` job nobody manages to start, with the reason; False if it moved meanwhile."""
    cur = conn.execute(query("ingest", "fail_pending_job"), {"mensagem": message[:2000], "id": job_id})
    return cur.rowcount == 1


def retry_job(conn: psycopg.Connection, tenant_id: UUID | str | None, job_id: UUID | str) -> dict[str, Any]:
    """Put a job that failed, was left `pendente`, or lost its runner back to `pendente` (claims counted
    afresh) and return its row; the caller runs it or leaves it to the sensor. `tenant_id` None: any
    tenant's (the operator's CLI). 404 for an unknown job (or another tenant's), 409 for one that
    finished well or is still being run, 404 when its stored file is gone."""
    row = job_row(conn, job_id)
    if tenant_id is not None and str(row["tenant_id"]) != str(tenant_id):
        raise NotFoundError(f"job de ingestão {job_id} não encontrado")
    if not row.get("arquivo_path") or not Path(row["arquivo_path"]).is_file():
        raise NotFoundError(
            f"o arquivo do job {row['job_id']} não está mais no armazenamento; envie a planilha de novo"
        )
    updated = conn.execute(
        query("ingest", "retry_job"), {"id": row["job_id"], "stale": STALE_AFTER_S}
    ).fetchone()
    if updated is None:
        if row["status"] == "concluido":
            raise ConflictError(
                f"o job {row['job_id']} já foi concluído; para ingerir o arquivo de novo, envie-o outra vez "
                "(ou re-materialize a partição no Dagster)"
            )
        raise ConflictError(
            f"o job {row['job_id']} está em processamento (último sinal há {row['parado_s']:.0f} s); se o "
            f"processo morreu, o job é retomado sozinho após {STALE_AFTER_S:.0f} s sem sinal"
        )
    return job_row(conn, row["job_id"])


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
    while (row := job_row(conn, job_id))["status"] in ("processando", "pendente"):
        if row["status"] == "pendente":  # given back (its runner died and it was rescued): do it here
            ran = _claim_and_run(url, job_id, takeover=False, progress=progress, log=log) or ran
            continue
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
        return job_outcome(
            conn, tenant_id, job_id, ran=ran or waited, duration_s=time.perf_counter() - started
        )


def job_outcome(
    conn: psycopg.Connection, tenant_id: UUID, job_id: UUID, *, ran: bool, duration_s: float
) -> PartitionOutcome:
    """What the asset shows for a job: its document, reject reasons and contact numbers."""
    return PartitionOutcome(
        job_id=job_id,
        tenant_id=tenant_id,
        ran=ran,
        document=job_document(conn, tenant_id, job_id),
        reject_reasons=reject_reasons(conn, tenant_id, job_id),
        contacts=contact_stats(conn, tenant_id, job_id),
        duration_s=duration_s,
    )


# --- jobs run outside Dagster ---------------------------------------------------------------------


def finished_jobs_since(
    conn: psycopg.Connection, *, after: float, exclude: list[str], limit: int = 200
) -> list[dict[str, Any]]:
    """Jobs that ended (`concluido` or `erro`) after epoch second `after`, oldest first, except those in
    `exclude` and the fresh jobs of Dagster re-materializations (their run reports them): what the
    Dagster shell checks against its instance to report the ingests that ran elsewhere (CLI, API, demo).
    Each row has `slug`, `arquivo_origem`, `origem`, `status` and `terminou_em` (epoch seconds)."""
    return conn.execute(
        query("ingest", "finished_jobs_since"), {"after": after, "exclude": exclude, "limit": limit}
    ).fetchall()
