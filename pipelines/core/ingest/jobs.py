"""Ingest jobs: the `ingest_jobs` row is the unit every surface (CLI, API, inbox sensor, Dagster) shares.

`run_job` uses two connections: one commits progress (so another connection sees `linhas_processadas`
grow) and one holds the load transaction (so a failure leaves nothing half-loaded).

A runner owns its job through the claim's `execucao_id` and proves it is alive by writing the job's
`updated_at` at least every HEARTBEAT_S (a heartbeat thread, besides the progress writes). A
`processando` job silent for STALE_AFTER_S has lost its runner (the process was killed) and may be taken
over or resumed (pipelines.core.ingest.runs); every write of the old runner names its `execucao_id`, so
one that was only slow finds its job gone and rolls back instead of writing over the new result."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipelines.core.common import csvsafe
from pipelines.core.common.convert import iso_utc
from pipelines.core.common.db import connection
from pipelines.core.common.errors import ConflictError, DisparoAgendaError, NotFoundError, ValidationError
from pipelines.core.common.queries import query
from pipelines.core.ingest import load as loader
from pipelines.core.ingest import pipeline
from pipelines.core.ingest.reader import read_sheet

log = logging.getLogger(__name__)

ORIGENS = ("cli", "api", "inbox", "dagster")
HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0  # 6 missed heartbeats: the runner is gone, not slow


def _uuid(value: UUID | str) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def create_job(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    arquivo_origem: str,
    arquivo_path: str,
    *,
    aba: str = "Leads",
    origem: str = "cli",
    arquivo_sha256: str | None = None,
) -> UUID:
    """A `pendente` job for a stored file; `run_job` processes it."""
    if origem not in ORIGENS:
        raise ValidationError(f"origem inválida {origem!r} (use {', '.join(ORIGENS)})", field="origem")
    aba = (aba or "").strip()
    if not aba:
        raise ValidationError("aba vazia: informe o nome da aba (padrão 'Leads')", field="aba")
    if not (arquivo_origem or "").strip():
        raise ValidationError("nome do arquivo vazio", field="arquivo")
    with conn.transaction():
        row = conn.execute(
            query("ingest", "job_insert"),
            {
                "tenant": tenant_id, "arquivo": arquivo_origem, "path": arquivo_path,
                "sha256": arquivo_sha256, "aba": aba, "origem": origem,
            },
        ).fetchone()  # fmt: skip
    return row["job_id"] if isinstance(row, dict) else row[0]


def _claim(
    conn: psycopg.Connection, job_id: UUID, *, force: bool, only_pending: bool, stale_after_s: float | None
) -> dict[str, Any]:
    """-> processando, resetting counters (a re-run of a finished job replaces its result).

    A `pendente` job is always claimable. A finished one (`concluido`/`erro`) only when not `only_pending`:
    automated callers (the API's in-process runner, the Dagster asset) pass `only_pending=True`, so a job
    another executor already ran is never ingested twice. A `processando` job only with `force`, and then,
    if `stale_after_s` is given, only when its last progress write is older than that (its runner died)."""
    with conn.transaction():
        row = conn.execute(
            query("ingest", "job_claim"),
            {"id": job_id, "force": force, "only_pending": only_pending, "stale": stale_after_s},
        ).fetchone()
        if row is None:
            exists = conn.execute("SELECT status FROM ingest_jobs WHERE job_id = %s", (job_id,)).fetchone()
            if exists is None:
                raise NotFoundError(f"job {job_id} não encontrado")
            if exists["status"] == "processando":
                raise ConflictError(f"o job {job_id} já está em processamento")
            raise ConflictError(
                f"o job {job_id} já terminou ({exists['status']}); crie um novo job para reingerir"
            )
        conn.execute(
            "DELETE FROM ingest_rejeicoes WHERE tenant_id = %s AND job_id = %s", (row["tenant_id"], job_id)
        )
    return row


class JobLostError(ConflictError):
    """This runner's job was taken over or resumed by another (it had stopped heartbeating)."""


def _progress(
    conn: psycopg.Connection, job_id: UUID, token: UUID, done: int | None = None, total: int | None = None
) -> bool:
    """Write progress (or, with no counts, just the heartbeat); False when the job is no longer ours."""
    cur = conn.execute(
        query("ingest", "job_progress"), {"done": done, "total": total, "id": job_id, "token": token}
    )
    return cur.rowcount == 1


class _Heartbeat(threading.Thread):
    """Writes the job's heartbeat every `every_s` while the runner works (reading a big sheet writes no
    progress for minutes); notes when the job stops being ours."""

    def __init__(self, conn: psycopg.Connection, job_id: UUID, token: UUID, every_s: float) -> None:
        super().__init__(name=f"ingest-heartbeat-{job_id}", daemon=True)
        self.conn, self.job_id, self.token, self.every_s = conn, job_id, token, every_s
        self.done = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            try:
                if not _progress(self.conn, self.job_id, self.token):
                    self.lost.set()
                    return
            except psycopg.Error as exc:  # a blip: the next beat may get through, staleness needs six
                log.warning("heartbeat of ingest job %s failed: %s", self.job_id, type(exc).__name__)

    def stop(self) -> None:
        self.done.set()
        self.join()


def _lost(job_id: UUID) -> JobLostError:
    return JobLostError(
        f"o job {job_id} foi assumido por outro executor (este ficou mais de {STALE_AFTER_S:.0f} s sem dar "
        "sinal); nada deste processo foi gravado"
    )


def run_job(
    url: str,
    job_id: UUID | str,
    *,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    only_pending: bool = False,
    stale_after_s: float | None = None,
) -> dict[str, Any]:
    """Process a job: pendente -> processando -> concluido | erro. Returns the job document; a bad file
    ends as status `erro` with `mensagem_erro` (it does not raise). ConflictError when the job cannot be
    claimed (see `_claim`): `only_pending` refuses finished jobs (automated callers), `force` takes over a
    job left `processando` by a dead process (only if idle for `stale_after_s`, when given)."""
    jid = _uuid(job_id)
    if jid is None:
        raise NotFoundError(f"job {job_id} não encontrado")
    with connection(url) as ctl:
        job = _claim(ctl, jid, force=force, only_pending=only_pending, stale_after_s=stale_after_s)
        tenant_id, token = job["tenant_id"], job["execucao_id"]
        started = time.monotonic()
        heartbeat = _Heartbeat(ctl, jid, token, HEARTBEAT_S)
        heartbeat.start()

        def report(done: int, total: int) -> None:
            if heartbeat.lost.is_set() or not _progress(ctl, jid, token, done, total):
                raise _lost(jid)
            if progress is not None:
                progress(done, total)

        try:
            if not job["arquivo_path"]:
                raise ValidationError("o job não tem arquivo armazenado")
            raw = read_sheet(job["arquivo_path"], job["aba"], filename=job["arquivo_origem"])
            total = raw.rows
            report(0, total)
            counters: list[dict[str, int]] = []
            with (
                ThreadPoolExecutor(1, thread_name_prefix="ingest-validate") as pool,
                connection(url) as work,
                work.transaction(),
            ):
                # The whole file is validated in a thread (polars releases the GIL) while its first lines,
                # validated on their own with the same verdicts, are normalized and loaded.
                first = pipeline.head(raw, min(loader.FIRST_CHUNK_ROWS, loader.CHUNK_ROWS))
                head = (pipeline.validate(first), int(first.frame["linha"][-1])) if first.rows else None
                whole = pool.submit(pipeline.validate, raw)
                counts = loader.load(
                    work,
                    tenant_id=tenant_id,
                    job_id=jid,
                    arquivo=job["arquivo_origem"],
                    aba=raw.sheet,
                    validated=whole,
                    parts=loader.stream_parts(whole, counters, head=head),
                    progress=lambda done: report(done, total),
                )
                validated = whole.result()
                avisos = dict(
                    pipeline.avisos(validated, counters),
                    **raw.avisos,
                    duracao_s=round(time.monotonic() - started, 3),
                )
                done = work.execute(
                    query("ingest", "job_concluido"),
                    {
                        "aba": raw.sheet, "total": total, "rejeitadas": validated.linhas_rejeitadas,
                        "leads_criados": counts.leads_criados, "leads_atualizados": counts.leads_atualizados,
                        "telefones_criados": counts.telefones_criados, "emails_criados": counts.emails_criados,
                        "avisos": Jsonb(avisos), "erros": Jsonb(pipeline.erros_resumo(validated.rejects)),
                        "id": jid, "token": token,
                    },
                )  # fmt: skip
                if done.rowcount != 1:
                    raise _lost(jid)  # rolls the whole load back
            if progress is not None:
                progress(total, total)
        except JobLostError:
            raise
        except BaseException as exc:
            _fail(ctl, jid, token, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            heartbeat.stop()
        return job_document(ctl, tenant_id, jid)


def _fail(conn: psycopg.Connection, job_id: UUID, token: UUID, exc: BaseException) -> None:
    if isinstance(exc, DisparoAgendaError):
        message = exc.message
    elif isinstance(exc, psycopg.Error):
        log.exception("ingest job %s failed in the database", job_id)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        message = f"erro de banco de dados: {first}"
    elif isinstance(exc, Exception):
        log.exception("ingest job %s failed", job_id)
        message = f"erro inesperado ({type(exc).__name__}): {exc}"
    else:
        message = "interrompido"
    conn.execute(query("ingest", "job_erro"), {"mensagem": message[:2000], "id": job_id, "token": token})


def job_document(conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str) -> dict[str, Any]:
    """The job as JSON (seed shape plus counts, warnings, reject summary). Another tenant's job: 404."""
    jid = _uuid(job_id)
    row = None
    if jid is not None:
        row = conn.execute(query("ingest", "job_document"), {"tenant": tenant_id, "id": jid}).fetchone()
    if row is None:
        raise NotFoundError(f"job {job_id} não encontrado")
    return _document(row)


def _document(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": str(row["job_id"]),
        "status": row["status"],
        "linhas_processadas": row["linhas_processadas"],
        "leads_criados": row["leads_criados"],
        "telefones_criados": row["telefones_criados"],
        "emails_criados": row["emails_criados"],
        "erros": row["erros"],
        "leads_atualizados": row["leads_atualizados"],
        "linhas_total": row["linhas_total"],
        "linhas_rejeitadas": row["linhas_rejeitadas"],
        "avisos": row["avisos"],
        "arquivo_origem": row["arquivo_origem"],
        "aba": row["aba"],
        "origem": row["origem"],
        "arquivo_sha256": row["arquivo_sha256"],
        "mensagem_erro": row["mensagem_erro"],
        "iniciado_em": iso_utc(row["iniciado_em"]),
        "concluido_em": iso_utc(row["concluido_em"]),
        "criado_em": iso_utc(row["created_at"]),
    }


STATUSES = ("pendente", "processando", "concluido", "erro")


def list_jobs(
    conn: psycopg.Connection,
    tenant_id: UUID | str | None,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of ingest jobs, newest first, whatever started them (CLI, API, inbox, Dagster), and the
    total for the same filter. `tenant_id` None lists every tenant's (the operator's view: each document
    then also carries its `tenant` slug)."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status inválido {status!r} (use {', '.join(STATUSES)})", field="status")
    if limit < 1 or offset < 0:
        raise ValidationError("limit deve ser >= 1 e offset >= 0")
    params = {"tenant": tenant_id, "status": status, "limit": limit, "offset": offset}
    total = conn.execute(query("ingest", "jobs_count"), params).fetchone()["n"]
    rows = conn.execute(query("ingest", "jobs_page"), params).fetchall()
    docs = [_document(r) | ({"tenant": r["slug"]} if tenant_id is None else {}) for r in rows]
    return docs, total


def _check_job(conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str) -> UUID:
    jid = _uuid(job_id)
    if (
        jid is None
        or conn.execute(
            "SELECT 1 FROM ingest_jobs WHERE tenant_id = %s AND job_id = %s", (tenant_id, jid)
        ).fetchone()
        is None
    ):
        raise NotFoundError(f"job {job_id} não encontrado")
    return jid


def list_rejects(
    conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str, *, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """One page of a job's rejects (linha, coluna, motivo, valores) in line order, and the total."""
    if limit < 1 or offset < 0:
        raise ValidationError("limit deve ser >= 1 e offset >= 0")
    jid = _check_job(conn, tenant_id, job_id)
    total = conn.execute(
        "SELECT count(*) AS n FROM ingest_rejeicoes WHERE tenant_id = %s AND job_id = %s", (tenant_id, jid)
    ).fetchone()["n"]
    rows = conn.execute(
        query("ingest", "rejects_page"), {"tenant": tenant_id, "id": jid, "limit": limit, "offset": offset}
    ).fetchall()
    return [dict(r) for r in rows], total


def rejects_csv(conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str) -> str:
    """All rejects of a job as CSV (header linha,coluna,motivo,valores; valores is the raw row as JSON),
    written by the database (COPY); cells that start like a formula are neutralized (common.csvsafe)."""
    jid = _check_job(conn, tenant_id, job_id)
    statement = sql.SQL(query("ingest", "rejects_csv")).format(
        coluna=csvsafe.sql_safe(sql.Identifier("coluna")),
        motivo=csvsafe.sql_safe(sql.Identifier("motivo")),
        valores=csvsafe.sql_safe(sql.SQL("valores::text")),
    )
    with conn.cursor().copy(statement, {"tenant": tenant_id, "id": jid}) as copy:
        return b"".join(bytes(block) for block in copy).decode("utf-8")
