"""From a read sheet to the frames that get loaded: validate, normalize, explode, count warnings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from pipelines.core.ingest import normalize as N
from pipelines.core.ingest.reader import RawSheet
from pipelines.core.ingest.validate import validate_leads

LEAD_COLUMNS = [
    "linha", "lead_id_externo", "nome", "contato_nome", "documento", "documento_tipo", "email_raw", "telefone_raw",
]  # fmt: skip


@dataclass
class Prepared:
    """What one file becomes: leads (one row per valid line), their phones and e-mails (exploded,
    deduplicated, principal flagged), rejects (linha, coluna, motivo, resumo, valores JSON) and warnings."""

    leads: pl.DataFrame
    phones: pl.DataFrame
    emails: pl.DataFrame
    rejects: pl.DataFrame
    avisos: dict[str, int] = field(default_factory=dict)
    linhas: int = 0

    @property
    def linhas_rejeitadas(self) -> int:
        return self.rejects["linha"].n_unique() if self.rejects.height else 0

    def erros_resumo(self, first_lines: int = 5) -> list[dict[str, Any]]:
        return erros_resumo(self.rejects, first_lines)


def erros_resumo(rejects: pl.DataFrame, first_lines: int = 5) -> list[dict[str, Any]]:
    """Reject reasons with counts and their first lines (the job document's `erros`)."""
    if not rejects.height:
        return []
    summary = (
        rejects.group_by("coluna", "resumo", maintain_order=True)
        .agg(
            pl.len().alias("quantidade"),
            pl.col("linha").sort().head(first_lines).alias("primeiras_linhas"),
        )
        .sort("quantidade", descending=True)
    )
    return [
        {
            "motivo": r["resumo"],
            "coluna": r["coluna"],
            "quantidade": r["quantidade"],
            "primeiras_linhas": r["primeiras_linhas"],
        }
        for r in summary.iter_rows(named=True)
    ]


@dataclass
class Validated:
    """The whole-file step: canonical columns, row rules and duplicates checked (pandera). `valid` has one
    row per lead to load, still to be normalized; `rejects` carries the raw cells of rejected lines."""

    valid: pl.DataFrame
    rejects: pl.DataFrame
    linhas: int = 0
    blank_rows: int = 0

    @property
    def linhas_rejeitadas(self) -> int:
        return self.rejects["linha"].n_unique() if self.rejects.height else 0


@dataclass
class Part:
    """Some of a file's valid rows normalized and exploded: leads, their phones and e-mails, and the
    warning counters of those rows (additive across parts)."""

    leads: pl.DataFrame
    phones: pl.DataFrame
    emails: pl.DataFrame
    avisos: dict[str, int]


def validate(raw: RawSheet) -> Validated:
    """A line's verdict depends only on that line and the lines above it (required fields; the first
    occurrence of a lead_id_externo wins), so validating the first lines alone (`head`) gives exactly the
    first lines of the whole file's validation: the ingest loads those while the rest is validated."""
    base = N.canonical(raw).collect()
    valid, rejects = validate_leads(base)
    if rejects.height:
        rejects = _with_values(rejects, raw)
    else:
        rejects = rejects.with_columns(pl.lit(None, pl.String).alias("valores"))
    return Validated(valid, rejects, linhas=raw.rows, blank_rows=raw.blank_rows)


def head(raw: RawSheet, rows: int) -> RawSheet:
    """The sheet's first `rows` lines (blank lines are already out of `raw.frame`)."""
    return replace(raw, frame=raw.frame.head(rows))


def normalize(valid: pl.DataFrame) -> Part:
    """Row-wise (polars, vectorized), so it can run on any slice of `Validated.valid`: the ingest
    normalizes the next chunk while the database loads the previous one."""
    leads = N.normalize_documento(valid.lazy()).select(LEAD_COLUMNS)
    phone_tokens = N.phone_tokens(leads).collect()
    email_tokens = N.resolve_email_fallback(N.email_tokens(leads).collect())
    phones = N.phones(phone_tokens.lazy()).collect()
    emails = N.emails(email_tokens.lazy()).collect()
    leads = leads.collect()
    with_contact = (
        pl.concat([phones.select("linha"), emails.select("linha")]).n_unique()
        if (phones.height or emails.height)
        else 0
    )
    avisos = {
        "telefones_invalidos": int(
            (phone_tokens["telefone"].is_null() & ~phone_tokens["nao_geografico"]).sum()
        ),
        "telefones_nao_geograficos": int(phone_tokens["nao_geografico"].sum()),
        "emails_invalidos": int(email_tokens["email"].is_null().sum()),
        "documentos_invalidos": int((leads["documento_tipo"] == "invalido").sum()),
        "leads_sem_contato_valido": leads.height - with_contact,
    }
    return Part(leads, phones, emails, avisos)


def avisos(validated: Validated, parts: list[dict[str, int]]) -> dict[str, int]:
    """The job's warnings: blank lines of the sheet plus the sum of the parts' counters."""
    out = {"linhas_em_branco": validated.blank_rows}
    for counters in parts:
        for key, value in counters.items():
            out[key] = out.get(key, 0) + value
    return out


def prepare(raw: RawSheet) -> Prepared:
    """Validate (pandera), then normalize every valid row (polars, vectorized) into loadable frames."""
    validated = validate(raw)
    part = normalize(validated.valid)
    return Prepared(
        part.leads,
        part.phones,
        part.emails,
        validated.rejects,
        avisos(validated, [part.avisos]),
        linhas=raw.rows,
    )


def _with_values(rejects: pl.DataFrame, raw: RawSheet) -> pl.DataFrame:
    """The raw cells of each rejected line as a JSON object keyed by the sheet's own headers."""
    wanted = [h for cols in raw.columns.values() for h in cols]
    cells = raw.frame.join(rejects.select("linha").unique(), on="linha", how="semi").select(
        "linha", pl.struct(wanted).struct.json_encode().alias("valores")
    )
    return rejects.join(cells, on="linha", how="left").sort("linha", "coluna")
