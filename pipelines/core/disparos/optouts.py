"""The suppression list: (canal, destino) pairs a tenant must not contact.

Destinations are stored normalized so lookups are exact: phones in E.164 with the ingest's rules
(Brazilian numbers without country code get +55), e-mails trimmed and lower-cased. Creation of disparos and campaigns skip them;
the send engine re-checks at claim time, so a disparo scheduled before the opt-out ends `bloqueado`.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl
import psycopg

from pipelines.core.common.convert import iso_utc
from pipelines.core.common.errors import NotFoundError, ValidationError
from pipelines.core.common.queries import query
from pipelines.core.ingest.normalize import normalize_phones as normalize_lead_phones
from pipelines.core.send.mcp import check_canal

_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LIMIT = 1000


def _br_phones(tokens: pl.Series) -> pl.Series:
    """E.164 or null per token, with the ingest's rules, so an opted-out number matches the stored
    lead_telefones row (e.g. an old 8-digit mobile gains its 9)."""
    return normalize_lead_phones(pl.LazyFrame({"token": tokens}), "token").collect()["telefone"]


def normalize_phones(values: pl.Series) -> pl.Series:
    """Vectorized: E.164 or null. A '+' number of another country is kept as E.164."""
    text = values.cast(pl.String).str.strip_chars().fill_null("")
    foreign = "+" + text.str.replace_all(r"\D", "")
    br = _br_phones(text)
    is_foreign = text.str.starts_with("+") & ~text.str.starts_with("+55")
    return (
        pl.select(
            pl.when(is_foreign).then(pl.when(foreign.str.contains(_E164.pattern)).then(foreign)).otherwise(br)
        )
        .to_series()
        .alias("destino")
    )


def normalize_phone(raw: str) -> str | None:
    """Scalar form (API and CLI single values)."""
    return normalize_phones(pl.Series([raw or ""], dtype=pl.String))[0]


def normalize_email(raw: str) -> str | None:
    text = (raw or "").strip().lower()
    return text if _EMAIL.match(text) else None


def email_expr(col: pl.Expr) -> pl.Expr:
    text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(text.str.contains(_EMAIL.pattern).fill_null(False)).then(text).otherwise(None)


def normalize(canal: str, destino: Any) -> str:
    """Normalized destination or a 422 naming the field."""
    check_canal(canal)
    if not isinstance(destino, str) or not destino.strip():
        raise ValidationError("destino é obrigatório", field="destino")
    value = normalize_phone(destino) if canal == "whatsapp" else normalize_email(destino)
    if value is None:
        kind = "telefone (ex.: +5511987654321)" if canal == "whatsapp" else "e-mail"
        raise ValidationError(
            f"destino inválido para {canal}: {destino!r}; esperado um {kind}", field="destino"
        )
    return value


def _doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    if isinstance(doc.get("created_at"), datetime):
        doc["created_at"] = iso_utc(doc["created_at"])
    return doc


def add_optout(
    conn: psycopg.Connection, tenant_id: UUID | str, canal: str, destino: str, motivo: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Idempotent: returns (row, created). Opting out twice keeps the first date and reason."""
    value = normalize(canal, destino)
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO optouts (tenant_id, canal, destino, motivo) VALUES (%s, %s, %s, %s)
               ON CONFLICT (tenant_id, canal, destino) DO NOTHING
               RETURNING canal, destino, motivo, created_at""",
            (tenant_id, canal, value, motivo),
        ).fetchone()
    if row is not None:
        return _doc(row), True
    row = conn.execute(
        "SELECT canal, destino, motivo, created_at FROM optouts WHERE tenant_id = %s AND canal = %s AND destino = %s",
        (tenant_id, canal, value),
    ).fetchone()
    return _doc(row), False


def remove_optout(conn: psycopg.Connection, tenant_id: UUID | str, canal: str, destino: str) -> None:
    value = normalize(canal, destino)
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM optouts WHERE tenant_id = %s AND canal = %s AND destino = %s",
            (tenant_id, canal, value),
        )
    if cur.rowcount == 0:
        raise NotFoundError(f"{value} não está na lista de opt-out do canal {canal}")


def is_opted_out(conn: psycopg.Connection, tenant_id: UUID | str, canal: str, destino: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM optouts WHERE tenant_id = %s AND canal = %s AND destino = %s",
        (tenant_id, canal, destino),
    ).fetchone()
    return row is not None


def list_optouts(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    *,
    canal: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    if canal is not None:
        check_canal(canal)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit deve estar entre 1 e {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationError("offset deve ser >= 0", field="offset")
    params = {"t": tenant_id, "c": canal, "limit": limit, "offset": offset}
    where = "tenant_id = %(t)s AND (%(c)s::text IS NULL OR canal = %(c)s)"
    total = conn.execute(f"SELECT count(*) AS n FROM optouts WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"""SELECT canal, destino, motivo, created_at FROM optouts WHERE {where}
            ORDER BY created_at DESC, canal, destino LIMIT %(limit)s OFFSET %(offset)s""",
        params,
    ).fetchall()
    return {"items": [_doc(r) for r in rows], "total": total, "limit": limit, "offset": offset}


_HEADER_NAMES = {"destino", "telefone", "celular", "whatsapp", "email", "e-mail", "canal", "motivo"}


def read_list(path: Path, canal: str | None = None) -> pl.DataFrame:
    """A CSV (header with destino|telefone|email, optional canal and motivo; ',' or ';') or a plain list
    (one destination per line). Returns columns linha, canal, destino_raw, destino (null when invalid), motivo."""
    if canal is not None:
        check_canal(canal)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"não foi possível ler {path}: {exc.strerror}") from exc
    text = data.decode("utf-8-sig", errors="replace")
    first = text.lstrip().split("\n", 1)[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    header_cells = [c.strip().strip('"').lower() for c in first.split(sep)]
    has_header = bool(header_cells) and header_cells[0] in _HEADER_NAMES
    df = pl.read_csv(
        io.StringIO(text),
        has_header=has_header,
        separator=sep,
        infer_schema=False,
        truncate_ragged_lines=True,
        quote_char='"',
    )
    if df.width == 0 or df.height == 0:
        return pl.DataFrame(schema={"linha": pl.Int64, "canal": pl.String, "destino_raw": pl.String,
                                    "destino": pl.String, "motivo": pl.String})  # fmt: skip
    names = [c.strip().lower() for c in df.columns]
    df.columns = names if has_header else [f"c{i}" for i in range(df.width)]
    dest_col = next(
        (c for c in names if c in ("destino", "telefone", "celular", "whatsapp", "email", "e-mail")), None
    )
    dest_col = dest_col if has_header and dest_col else df.columns[0]
    start = 2 if has_header else 1
    raw = pl.col(dest_col).cast(pl.String).str.strip_chars()
    if canal is not None:
        canal_e = pl.lit(canal)
    elif has_header and "canal" in df.columns:
        canal_e = pl.col("canal").str.strip_chars().str.to_lowercase()
    else:
        canal_e = pl.when(raw.str.contains("@")).then(pl.lit("email")).otherwise(pl.lit("whatsapp"))
    motivo_e = (
        pl.col("motivo").cast(pl.String) if has_header and "motivo" in df.columns else pl.lit(None, pl.String)
    )
    out = (
        df.with_row_index("linha", offset=start)
        .select(
            pl.col("linha").cast(pl.Int64),
            canal_e.alias("canal"),
            raw.alias("destino_raw"),
            motivo_e.alias("motivo"),
        )
        .filter(pl.col("destino_raw").is_not_null() & (pl.col("destino_raw") != ""))
    )
    phones = normalize_phones(out["destino_raw"])
    emails = out.select(email_expr(pl.col("destino_raw"))).to_series()
    out = out.with_columns(
        pl.when(pl.col("canal") == "whatsapp")
        .then(phones)
        .when(pl.col("canal") == "email")
        .then(emails)
        .otherwise(None)
        .alias("destino")
    )
    return out


def import_optouts(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    path: Path,
    *,
    canal: str | None = None,
    motivo: str | None = None,
) -> dict[str, Any]:
    """Bulk add: vectorized normalization, COPY into a temp table, one INSERT … ON CONFLICT DO NOTHING.
    Invalid lines are reported (line numbers), never half-imported: valid ones go in one transaction."""
    df = read_list(path, canal)
    bad = df.filter(pl.col("destino").is_null())
    good = df.filter(pl.col("destino").is_not_null()).with_columns(
        pl.col("motivo").fill_null(pl.lit(motivo, pl.String))
    )
    inserted = 0
    with conn.transaction():
        conn.execute(query("optouts", "import_temp_table"))
        if good.height:
            buf = io.BytesIO()
            good.select("canal", "destino", "motivo").write_csv(buf, include_header=False)
            with conn.cursor().copy(query("optouts", "import_copy")) as cp:
                cp.write(buf.getvalue())
            inserted = conn.execute(query("optouts", "import_insert"), {"t": tenant_id}).rowcount
    return {
        "linhas": df.height,
        "importados": inserted,
        "ja_existentes": good.select(pl.struct("canal", "destino").n_unique()).item() - inserted
        if good.height
        else 0,
        "invalidos": bad.height,
        "linhas_invalidas": bad.head(20).select("linha", "destino_raw").to_dicts(),
    }
