"""Loading: one transaction (the caller's) per file. New leads and their contacts are COPYed straight into
`leads`, `lead_telefones` and `lead_emails` (COPY's batched heap inserts; ids assigned here, so contacts
need no lookup of their lead); leads already known to the tenant go through temp tables (ON COMMIT DROP)
and set-based UPDATE / INSERT … ON CONFLICT. Chunks only bound memory and give progress; they never
commit on their own."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import polars as pl
import psycopg

from pipelines.core.common.ids import uuid7_series
from pipelines.core.common.queries import query
from pipelines.core.ingest import pgbinary
from pipelines.core.ingest.pipeline import Part, Validated, normalize

CHUNK_ROWS = 50_000  # leads per COPY round (the unit of overlap); tests lower it to exercise several chunks
FIRST_CHUNK_ROWS = 10_000  # a small first chunk, so the database starts while the rest is normalized

_LEAD_TARGET = [
    "lead_id", "tenant_id", "ingest_job_id", "origem_arquivo", "origem_aba", "linha_planilha", "lead_id_externo",
    "nome", "contato_nome", "documento", "documento_tipo", "email_raw", "telefone_raw",
]  # fmt: skip
_KNOWN_LEAD_COLUMNS = [
    "lead_id", "linha", "nome", "contato_nome", "documento", "documento_tipo", "email_raw", "telefone_raw",
]  # fmt: skip
_PHONE_TARGET = ["telefone_id", "tenant_id", "lead_id", "telefone", "telefone_principal", "tipo_origem"]
_EMAIL_TARGET = ["email_id", "tenant_id", "lead_id", "email", "email_principal"]
# Column types of the direct COPYs, which use the binary format (pgbinary: cheaper for the server to parse).
_LEAD_TYPES = ["uuid", "uuid", "uuid", "text", "text", "int4", *["text"] * 7]
_PHONE_TYPES = ["uuid", "uuid", "uuid", "text", "bool", "text"]
_EMAIL_TYPES = ["uuid", "uuid", "uuid", "text", "bool"]


@dataclass
class LoadCounts:
    leads_criados: int = 0
    leads_atualizados: int = 0
    telefones_criados: int = 0
    emails_criados: int = 0


def _csv(df: pl.DataFrame, columns: list[str]) -> bytes:
    """A frame as COPY-ready CSV (polars writes it; nulls are unquoted empties, which COPY reads as NULL)."""
    buf = io.BytesIO()
    df.select(columns).write_csv(buf, include_header=False)
    return buf.getvalue()


def _copy(cur: psycopg.Cursor, table: str, columns: list[str], data: bytes, fmt: str = "csv") -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT {fmt})") as cp:
        cp.write(data)


def copy_frame(cur: psycopg.Cursor, table: str, df: pl.DataFrame, columns: list[str]) -> None:
    _copy(cur, table, columns, _csv(df, columns))


def after_copy(conn: psycopg.Connection) -> None:
    """Hook after each chunk's COPYs of leads, before its contacts (tests inject failures here)."""


@contextmanager
def _timed(timings: dict[str, float] | None, step: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    if timings is not None:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - t0


def _with_ids(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.with_columns(uuid7_series(frame.height).alias(column))


# One database step of a chunk, run by the loader thread in order: ("copy", step, table, columns, data, fmt),
# ("sql", step, statement, LoadCounts field to add the row count to, or None), ("hook",), ("progress", rows).
_Op = tuple[Any, ...]


class _Loader(threading.Thread):
    """Runs the chunks' database steps on the load connection while the caller's thread builds the next
    chunk's frames and COPY data (polars releases the GIL): client work and server work overlap on two cores.
    The first error stops it; the producer sees it on its next `put` and at `finish`."""

    def __init__(self, conn: psycopg.Connection, params: dict[str, Any],
                 progress: Callable[[int], None] | None, timings: dict[str, float] | None) -> None:  # fmt: skip
        super().__init__(name="ingest-loader", daemon=True)
        self.conn, self.params = conn, params
        self.counts = LoadCounts()  # what only the database knows: contacts added by the unions
        self.progress, self.timings = progress, timings
        self.queue: queue.Queue[list[_Op] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.cancelled = False

    def run(self) -> None:
        try:
            with self.conn.cursor() as cur:
                while (batch := self.queue.get()) is not None:
                    for op in batch:
                        if self.cancelled:
                            return
                        self._run(cur, op)
        except BaseException as exc:  # handed to the producer, which re-raises it in its own thread
            self.error = exc

    def _run(self, cur: psycopg.Cursor, op: _Op) -> None:
        kind = op[0]
        if kind == "copy":
            with _timed(self.timings, op[1]):
                _copy(cur, op[2], op[3], op[4], op[5])
        elif kind == "sql":
            with _timed(self.timings, op[1]):
                n = cur.execute(op[2], self.params).rowcount
            if op[3]:
                setattr(self.counts, op[3], getattr(self.counts, op[3]) + n)
        elif kind == "hook":
            after_copy(self.conn)
        elif kind == "progress" and self.progress:
            self.progress(op[1])

    def put(self, batch: list[_Op]) -> None:
        while True:
            if self.error is not None or not self.is_alive():
                self.finish()
                raise RuntimeError("o carregador parou antes do fim do arquivo")
            try:
                self.queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self, *, cancel: bool = False) -> None:
        """Wait for the queued steps (or, with `cancel`, only the one running) and re-raise a failure."""
        self.cancelled = self.cancelled or cancel
        while self.is_alive():
            try:
                self.queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self.join()
        if self.error is not None:
            raise self.error


def resolved(validated: Validated | Future[Validated]) -> Validated:
    """The whole file's validation, waiting for it when it runs in another thread (see `stream_parts`)."""
    return validated.result() if isinstance(validated, Future) else validated


def _known_leads(
    cur: psycopg.Cursor, validated: Validated | Future[Validated], params: dict[str, Any]
) -> pl.DataFrame:
    """linha -> lead_id of the file's leads the tenant already has (a re-import); empty for a new tenant,
    which needs no lookup and so need not wait for the whole file's validation."""
    known = pl.DataFrame(schema={"linha": pl.Int32, "lead_id": pl.String})  # linha: Int32 (validate.REQUIRED)
    has_leads = cur.execute(query("ingest", "tenant_has_leads"), params).fetchone()["sim"]
    if not has_leads:
        return known
    leads = resolved(validated).valid
    if not leads.height:
        return known
    copy_frame(cur, "t_keys", leads, ["linha", "lead_id_externo"])
    buf = io.BytesIO()  # streamed as CSV: a re-import of a million leads is a million rows
    with cur.copy(query("ingest", "known_leads"), params) as cp:
        for block in cp:
            buf.write(block)
    if not buf.tell():
        return known
    buf.seek(0)
    return pl.read_csv(buf, has_header=False, new_columns=["linha", "lead_id"], schema=known.schema)


def load(
    conn: psycopg.Connection,
    *,
    tenant_id: UUID,
    job_id: UUID,
    arquivo: str,
    aba: str,
    validated: Validated | Future[Validated],
    parts: Iterable[Part],
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> LoadCounts:
    """Load one validated file, normalized part by part (`parts` may be a generator: each part is built
    while the database loads the previous one; `validated` may still be running, see `stream_parts`).
    Must run inside the caller's transaction (all-or-nothing). `timings`, when given, accumulates
    seconds per step (the benchmark's breakdown; they overlap)."""
    counts = LoadCounts()
    params = {"tenant": tenant_id, "job": job_id, "arquivo": arquivo, "aba": aba}
    constants = lead_constants(tenant_id, job_id, arquivo, aba)
    with conn.cursor() as cur:
        # JIT only adds compile time to these one-pass statements; the statement-level foreign-key checks
        # hash a whole chunk, and their transition tables should stay in memory.
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL client_encoding = 'UTF8'")  # the COPY data is UTF-8 whatever the session said
        cur.execute("SET LOCAL work_mem = '128MB'")
        # One load per tenant at a time: leads are created only here, so which leads are known (below)
        # stays true until commit, and two files of one tenant never race on the same lead_id_externo.
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('ingest:' || %(tenant)s::text, 0))", params
        )
        cur.execute(query("ingest", "load_temp_tables"))
        with _timed(timings, "known_leads"):
            known_all = _known_leads(cur, validated, params)

    loader = _Loader(conn, params, progress, timings)
    loader.start()
    done = 0
    try:
        for part in parts:
            for start in range(0, part.leads.height, CHUNK_ROWS):
                chunk = part.leads.slice(start, CHUNK_ROWS)
                with _timed(timings, "build_chunks"):
                    batch = _chunk_ops(chunk, part.phones, part.emails, known_all, constants, counts)
                done += chunk.height
                batch.append(("progress", done))
                loader.put(batch)
    except BaseException:
        loader.finish(cancel=True)
        raise
    loader.finish()
    rejects = resolved(validated).rejects
    if rejects.height:
        rej = rejects.with_columns(
            pl.lit(str(tenant_id)).alias("tenant_id"), pl.lit(str(job_id)).alias("job_id")
        )
        with conn.cursor() as cur:
            copy_frame(
                cur, "ingest_rejeicoes", rej, ["tenant_id", "job_id", "linha", "coluna", "motivo", "valores"]
            )
    counts.telefones_criados += loader.counts.telefones_criados
    counts.emails_criados += loader.counts.emails_criados
    return counts


def stream_parts(
    validated: Validated | Future[Validated],
    counters: list[dict[str, int]] | None = None,
    *,
    head: tuple[Validated, int] | None = None,
) -> Iterator[Part]:
    """The valid rows normalized chunk by chunk, for `load` to consume while it loads the previous chunk:
    a small first one, then each twice the last up to CHUNK_ROWS, so the next chunk is ready by the time
    the database is done with the current one. Each part's warning counters go to `counters`.

    `head` = (the validation of the sheet's first lines on their own, the last of those lines): they are
    the first part, loaded while `validated` (then a Future of the whole file's validation) still runs;
    the rest comes from the whole file's rows below that line (`pipeline.validate` says why the two
    agree)."""

    def emit(rows: pl.DataFrame) -> Part:
        part = normalize(rows)
        if counters is not None:
            counters.append(part.avisos)
        return part

    size = min(FIRST_CHUNK_ROWS, CHUNK_ROWS)
    rest_after = None
    if head is not None:
        first, rest_after = head
        if first.valid.height:
            yield emit(first.valid)
            size = min(2 * size, CHUNK_ROWS)
    rows = resolved(validated).valid
    if rest_after is not None:
        rows = rows.filter(pl.col("linha") > rest_after)
    height, start = rows.height, 0
    while start < height:
        yield emit(rows.slice(start, size))
        start, size = start + size, min(2 * size, CHUNK_ROWS)


def lead_constants(tenant_id: UUID, job_id: UUID, arquivo: str, aba: str) -> list[pl.Expr]:
    """The columns every lead of one load shares (tenant first: contacts take it from here too)."""
    return [
        pl.lit(str(tenant_id)).alias("tenant_id"),
        pl.lit(str(job_id)).alias("ingest_job_id"),
        pl.lit(arquivo).alias("origem_arquivo"),
        pl.lit(aba).alias("origem_aba"),
    ]


def new_leads_data(new: pl.DataFrame, constants: list[pl.Expr]) -> bytes:
    """Binary COPY data of new leads (with their lead_id) for `leads`."""
    frame = new.with_columns(*constants, pl.col("linha").alias("linha_planilha"))
    return pgbinary.encode(frame, _LEAD_TARGET, _LEAD_TYPES)


def _chunk_ops(
    chunk: pl.DataFrame,
    phones: pl.DataFrame,
    emails: pl.DataFrame,
    known_all: pl.DataFrame,
    constants: list[pl.Expr],
    counts: LoadCounts,
) -> list[_Op]:
    """One chunk's frames as database steps: new leads and their contacts COPYed into their tables; known
    leads (re-import) through the temp tables, updated and unioned set-based."""
    lo, hi = chunk["linha"][0], chunk["linha"][-1]
    tel = phones.filter(pl.col("linha").is_between(lo, hi))
    eml = emails.filter(pl.col("linha").is_between(lo, hi))
    known = known_all.filter(pl.col("linha").is_between(lo, hi))
    fresh = chunk.select("linha").join(known, on="linha", how="anti").sort("linha")
    ids = pl.concat(
        [
            known.with_columns(pl.lit(False).alias("criado")),
            _with_ids(fresh, "lead_id").with_columns(pl.lit(True).alias("criado")),
        ]
    )
    chunk = chunk.join(ids, on="linha")
    new = chunk.filter("criado").sort("lead_id")
    old = chunk.filter(~pl.col("criado"))
    tel = _with_ids(tel.join(ids, on="linha").sort("lead_id", "telefone"), "telefone_id")
    eml = _with_ids(eml.join(ids, on="linha").sort("lead_id", "email"), "email_id")
    new_tel, old_tel = tel.filter("criado"), tel.filter(~pl.col("criado"))
    new_eml, old_eml = eml.filter("criado"), eml.filter(~pl.col("criado"))
    counts.leads_criados += new.height
    counts.leads_atualizados += old.height
    counts.telefones_criados += new_tel.height
    counts.emails_criados += new_eml.height

    ops: list[_Op] = []
    if new.height:
        ops.append(
            ("copy", "copy_new_leads", "leads", _LEAD_TARGET, new_leads_data(new, constants), "binary")
        )
    if old.height:
        ops.append(("sql", "update_known_leads", "TRUNCATE t_leads, t_tel, t_email", None))
        ops.append(
            (
                "copy",
                "update_known_leads",
                "t_leads",
                _KNOWN_LEAD_COLUMNS,
                _csv(old, _KNOWN_LEAD_COLUMNS),
                "csv",
            )
        )
    ops.append(("hook",))
    if old.height:
        ops.append(("sql", "update_known_leads", query("ingest", "update_known_leads"), None))
    if new_tel.height:
        frame = new_tel.with_columns(constants[0], pl.col("principal").alias("telefone_principal"))
        data = pgbinary.encode(frame, _PHONE_TARGET, _PHONE_TYPES)
        ops.append(("copy", "copy_new_phones", "lead_telefones", _PHONE_TARGET, data, "binary"))
    if new_eml.height:
        frame = new_eml.with_columns(constants[0], pl.col("principal").alias("email_principal"))
        data = pgbinary.encode(frame, _EMAIL_TARGET, _EMAIL_TYPES)
        ops.append(("copy", "copy_new_emails", "lead_emails", _EMAIL_TARGET, data, "binary"))
    if old_tel.height:
        cols = ["telefone_id", "lead_id", "telefone", "tipo_origem", "principal"]
        ops.append(("copy", "union_known_contacts", "t_tel", cols, _csv(old_tel, cols), "csv"))
        ops.append(
            ("sql", "union_known_contacts", query("ingest", "union_known_phones"), "telefones_criados")
        )
    if old_eml.height:
        cols = ["email_id", "lead_id", "email", "principal"]
        ops.append(("copy", "union_known_contacts", "t_email", cols, _csv(old_eml, cols), "csv"))
        ops.append(("sql", "union_known_contacts", query("ingest", "union_known_emails"), "emails_criados"))
    return ops
