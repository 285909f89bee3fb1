"""Row validation with pandera.polars (lazy=True, so every failing row is reported at once).

Two passes: required fields first, then duplicate lead_id_externo among the rows that survived — so the
"first" occurrence is the first one that is actually loaded, and the reject names its line."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

DUPLICATE = "lead_id_externo duplicado no arquivo"

REQUIRED = pa.DataFrameSchema(
    {
        "linha": pa.Column(pl.Int32),
        "lead_id_externo": pa.Column(pl.String, nullable=False, title="lead_id_externo ausente"),
        "nome": pa.Column(pl.String, nullable=False, title="nome ausente"),
    },
    strict=False,
)


def _first_distinct(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).is_first_distinct())


UNIQUE = pa.DataFrameSchema(
    {"lead_id_externo": pa.Column(pl.String, checks=pa.Check(_first_distinct, error=DUPLICATE))},
    strict=False,
)


def _failures(schema: pa.DataFrameSchema, df: pl.DataFrame) -> pl.DataFrame:
    """(row index, coluna, check) of every failure; empty when the frame is valid."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        if fc.filter(pl.col("index").is_null()).height:  # a schema-level error is a bug, not a bad row
            raise
        return fc.select(pl.col("index").cast(pl.Int64).alias("idx"), "column", "check")
    return pl.DataFrame(schema={"idx": pl.Int64, "column": pl.String, "check": pl.String})


def validate_leads(leads: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split canonical rows into (valid, rejects). rejects: linha, coluna, motivo, resumo, where resumo is
    the reason without line numbers (for the job summary)."""
    fails = _failures(REQUIRED, leads)
    rejects = []
    if fails.height:
        rows = leads.select("linha").with_row_index("idx").with_columns(pl.col("idx").cast(pl.Int64))
        r = fails.join(rows, on="idx").with_columns(
            pl.when(pl.col("check") == "not_nullable")
            .then(pl.col("column") + pl.lit(" ausente"))
            .otherwise(pl.col("column") + pl.lit(": ") + pl.col("check"))
            .alias("motivo")
        )
        rejects.append(
            r.select("linha", pl.col("column").alias("coluna"), "motivo", pl.col("motivo").alias("resumo"))
        )
        bad = fails["idx"].unique()
        leads = (
            leads.with_row_index("_i").filter(~pl.col("_i").cast(pl.Int64).is_in(bad.implode())).drop("_i")
        )

    dup = _failures(UNIQUE, leads)
    if dup.height:
        firsts = leads.group_by("lead_id_externo").agg(pl.col("linha").min().alias("primeira"))
        marked = leads.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
        d = (
            marked.filter(pl.col("_i").is_in(dup["idx"].implode()))
            .join(firsts, on="lead_id_externo")
            .select(
                "linha",
                pl.lit("lead_id_externo").alias("coluna"),
                pl.format(DUPLICATE + " (primeira ocorrência na linha {})", "primeira").alias("motivo"),
                pl.lit(DUPLICATE).alias("resumo"),
            )
        )
        rejects.append(d)
        leads = marked.filter(~pl.col("_i").is_in(dup["idx"].implode())).drop("_i")

    schema = {"linha": pl.Int32, "coluna": pl.String, "motivo": pl.String, "resumo": pl.String}
    out = (
        pl.concat([r.cast(schema) for r in rejects]).sort("linha", "coluna")
        if rejects
        else pl.DataFrame(schema=schema)
    )
    return leads, out


# pandera registers its polars backends (importing ~100 modules) on the first validate; doing it at import
# keeps that one-time cost out of the first job's validation.
pa.DataFrameSchema.register_default_backends(pl.DataFrame)
