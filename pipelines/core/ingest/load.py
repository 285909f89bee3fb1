"""Loading: one transaction (the caller's) per file. New leads and their contacts are COPYed straight into
`leads`, `lead_telefones` and `lead_emails` (COPY's batched heap inserts; ids assigned here, so contacts
need no lookup of their lead); leads already known to the tenant go through temp tables (ON COMMIT DROP)
and set-based UPDATE / INSERT … ON CONFLICT. Chunks only bound memory and give progress; they never
commit on their own."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

import polars as pl
import psycopg

from pipelines.core.ingest.pipeline import Prepared

CHUNK_ROWS = 100_000  # leads per COPY round; tests lower it to exercise several chunks

_TEMP = """
CREATE TEMP TABLE t_keys (linha INTEGER, lead_id_externo TEXT) ON COMMIT DROP;
CREATE TEMP TABLE t_leads (
    lead_id UUID, linha INTEGER, nome TEXT, contato_nome TEXT, documento TEXT, documento_tipo TEXT,
    email_raw TEXT, telefone_raw TEXT) ON COMMIT DROP;
CREATE TEMP TABLE t_tel (
    telefone_id UUID, lead_id UUID, telefone TEXT, tipo_origem TEXT, principal BOOLEAN) ON COMMIT DROP;
CREATE TEMP TABLE t_email (email_id UUID, lead_id UUID, email TEXT, principal BOOLEAN) ON COMMIT DROP;
"""

_LEAD_TARGET = [
    "lead_id", "tenant_id", "ingest_job_id", "origem_arquivo", "origem_aba", "linha_planilha", "lead_id_externo",
    "nome", "contato_nome", "documento", "documento_tipo", "email_raw", "telefone_raw",
]  # fmt: skip
_KNOWN_LEAD_COLUMNS = [
    "lead_id", "linha", "nome", "contato_nome", "documento", "documento_tipo", "email_raw", "telefone_raw",
]  # fmt: skip
_PHONE_TARGET = ["telefone_id", "tenant_id", "lead_id", "telefone", "telefone_principal", "tipo_origem"]
_EMAIL_TARGET = ["email_id", "tenant_id", "lead_id", "email", "email_principal"]

# Which lines of the chunk are leads the tenant already has (re-import). Skipped for a tenant without leads.
_EXISTING = """
SELECT k.linha, l.lead_id::text AS lead_id
FROM t_keys k JOIN leads l ON l.tenant_id = %(tenant)s AND l.lead_id_externo = k.lead_id_externo
"""

# A re-import keeps what the new file leaves blank (contato, documento, raw cells) and refreshes the rest.
_UPDATE_LEADS = """
UPDATE leads l SET
    origem_arquivo = %(arquivo)s,
    origem_aba = %(aba)s,
    linha_planilha = t.linha,
    ingest_job_id = %(job)s,
    nome = t.nome,
    contato_nome = COALESCE(t.contato_nome, l.contato_nome),
    documento = COALESCE(t.documento, l.documento),
    documento_tipo = CASE WHEN t.documento IS NULL THEN l.documento_tipo ELSE t.documento_tipo END,
    email_raw = COALESCE(t.email_raw, l.email_raw),
    telefone_raw = COALESCE(t.telefone_raw, l.telefone_raw),
    data_ultimo_evento = now()
FROM t_leads t WHERE l.lead_id = t.lead_id AND l.tenant_id = %(tenant)s
"""

# An existing lead gets the union: only unknown values are added, and a principal only when it has none yet.
_UNION_PHONES = """
INSERT INTO lead_telefones (telefone_id, tenant_id, lead_id, telefone, telefone_principal, tipo_origem)
SELECT t.telefone_id, %(tenant)s, t.lead_id, t.telefone,
       t.principal AND NOT EXISTS (
           SELECT 1 FROM lead_telefones x WHERE x.lead_id = t.lead_id AND x.telefone_principal),
       t.tipo_origem
FROM t_tel t
ORDER BY t.lead_id, t.telefone
ON CONFLICT (lead_id, telefone) DO NOTHING
"""
_UNION_EMAILS = """
INSERT INTO lead_emails (email_id, tenant_id, lead_id, email, email_principal)
SELECT t.email_id, %(tenant)s, t.lead_id, t.email,
       t.principal AND NOT EXISTS (
           SELECT 1 FROM lead_emails x WHERE x.lead_id = t.lead_id AND x.email_principal)
FROM t_email t
ORDER BY t.lead_id, t.email
ON CONFLICT (lead_id, email) DO NOTHING
"""

_VARIANT = {f"{i:x}": "89ab"[i & 3] for i in range(16)}


@dataclass
class LoadCounts:
    leads_criados: int = 0
    leads_atualizados: int = 0
    telefones_criados: int = 0
    emails_criados: int = 0


def time_ordered_ids(n: int) -> pl.Series:
    """n distinct UUIDv7 ids (RFC 9562: 48-bit Unix ms, version 7, variant; the rest random per call,
    with the row number as the counter in the low digits), built vectorized. Ids of one load sort together
    and in row order, so the primary-key index grows at its right edge instead of on random leaf pages."""
    r = os.urandom(8).hex()
    ms = f"{int(time.time() * 1000):012x}"
    prefix = f"{ms[:8]}-{ms[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:11]}"
    return pl.select(
        (pl.lit(prefix) + pl.int_range(n, dtype=pl.Int64).cast(pl.String).str.zfill(8)).alias("id")
    ).to_series()


def copy_frame(cur: psycopg.Cursor, table: str, df: pl.DataFrame, columns: list[str]) -> None:
    """COPY a frame as CSV (polars writes it; nulls are unquoted empties, which COPY reads as NULL)."""
    buf = io.BytesIO()
    df.select(columns).write_csv(buf, include_header=False)
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as cp:
        cp.write(buf.getbuffer())


def after_copy(conn: psycopg.Connection) -> None:
    """Hook after each chunk's COPYs of leads, before its contacts (tests inject failures here)."""


@contextmanager
def _timed(timings: dict[str, float] | None, step: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    if timings is not None:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - t0


def _with_ids(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.with_columns(time_ordered_ids(frame.height).alias(column))


def load(
    conn: psycopg.Connection,
    *,
    tenant_id: UUID,
    job_id: UUID,
    arquivo: str,
    aba: str,
    prepared: Prepared,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> LoadCounts:
    """Load one prepared file. Must run inside the caller's transaction (all-or-nothing). `timings`, when
    given, accumulates seconds per step (the benchmark's breakdown)."""
    counts = LoadCounts()
    params = {"tenant": tenant_id, "job": job_id, "arquivo": arquivo, "aba": aba}
    constants = [
        pl.lit(str(tenant_id)).alias("tenant_id"),
        pl.lit(str(job_id)).alias("ingest_job_id"),
        pl.lit(arquivo).alias("origem_arquivo"),
        pl.lit(aba).alias("origem_aba"),
    ]
    tenant_col = pl.lit(str(tenant_id)).alias("tenant_id")
    leads, phones, emails = prepared.leads, prepared.phones, prepared.emails
    with conn.cursor() as cur:
        # JIT only adds compile time to these one-pass statements; the statement-level foreign-key checks
        # hash a whole chunk, and their transition tables should stay in memory.
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '128MB'")
        # One load per tenant at a time: leads are created only here, so the check for known leads below
        # stays true until commit, and two files of one tenant never race on the same lead_id_externo.
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('ingest:' || %s::text, 0))", (str(tenant_id),)
        )
        cur.execute(_TEMP)
        tenant_has_leads = cur.execute(
            "SELECT EXISTS (SELECT 1 FROM leads WHERE tenant_id = %s) AS sim", (tenant_id,)
        ).fetchone()["sim"]
        if prepared.rejects.height:
            rej = prepared.rejects.with_columns(
                pl.lit(str(tenant_id)).alias("tenant_id"), pl.lit(str(job_id)).alias("job_id")
            )
            copy_frame(
                cur, "ingest_rejeicoes", rej, ["tenant_id", "job_id", "linha", "coluna", "motivo", "valores"]
            )
        rejected_lines = prepared.linhas_rejeitadas
        for start in range(0, max(leads.height, 1), CHUNK_ROWS):
            chunk = leads.slice(start, CHUNK_ROWS)
            if chunk.height == 0:
                break
            lo, hi = chunk["linha"][0], chunk["linha"][-1]
            tel = phones.filter(pl.col("linha").is_between(lo, hi))
            eml = emails.filter(pl.col("linha").is_between(lo, hi))

            with _timed(timings, "known_leads"):
                known = pl.DataFrame(schema={"linha": chunk["linha"].dtype, "lead_id": pl.String})
                if tenant_has_leads:
                    if start:
                        cur.execute("TRUNCATE t_keys")
                    copy_frame(cur, "t_keys", chunk, ["linha", "lead_id_externo"])
                    rows = cur.execute(_EXISTING, params).fetchall()
                    if rows:
                        known = pl.DataFrame(rows, schema=known.schema)
            with _timed(timings, "assign_ids"):
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
            if new.height:
                with _timed(timings, "copy_new_leads"):
                    copy_frame(
                        cur,
                        "leads",
                        new.with_columns(*constants, pl.col("linha").alias("linha_planilha")),
                        _LEAD_TARGET,
                    )
            if old.height:
                with _timed(timings, "update_known_leads"):
                    cur.execute("TRUNCATE t_leads, t_tel, t_email")
                    copy_frame(cur, "t_leads", old, _KNOWN_LEAD_COLUMNS)
            after_copy(conn)
            if old.height:
                with _timed(timings, "update_known_leads"):
                    cur.execute(_UPDATE_LEADS, params)
            counts.leads_criados += new.height
            counts.leads_atualizados += old.height

            new_tel, old_tel = tel.filter("criado"), tel.filter(~pl.col("criado"))
            new_eml, old_eml = eml.filter("criado"), eml.filter(~pl.col("criado"))
            if new_tel.height:
                with _timed(timings, "copy_new_phones"):
                    copy_frame(
                        cur,
                        "lead_telefones",
                        new_tel.with_columns(tenant_col, pl.col("principal").alias("telefone_principal")),
                        _PHONE_TARGET,
                    )
                counts.telefones_criados += new_tel.height
            if new_eml.height:
                with _timed(timings, "copy_new_emails"):
                    copy_frame(
                        cur,
                        "lead_emails",
                        new_eml.with_columns(tenant_col, pl.col("principal").alias("email_principal")),
                        _EMAIL_TARGET,
                    )
                counts.emails_criados += new_eml.height
            with _timed(timings, "union_known_contacts"):
                if old_tel.height:
                    copy_frame(
                        cur,
                        "t_tel",
                        old_tel,
                        ["telefone_id", "lead_id", "telefone", "tipo_origem", "principal"],
                    )
                    counts.telefones_criados += cur.execute(_UNION_PHONES, params).rowcount
                if old_eml.height:
                    copy_frame(cur, "t_email", old_eml, ["email_id", "lead_id", "email", "principal"])
                    counts.emails_criados += cur.execute(_UNION_EMAILS, params).rowcount
            if progress:
                progress(min(start + chunk.height, leads.height) + rejected_lines)
    return counts
