"""PostgreSQL → Arrow, one statement per dataset and day, through the ADBC PostgreSQL driver: it runs the
query as `COPY (…) TO STDOUT (FORMAT binary)` and decodes the binary rows into Arrow record batches in
C++, which DuckDB reads without a copy. Never row by row, never text: measured on a day of 1,000,000
disparos, a CSV COPY moved 1.6x the bytes, PostgreSQL took twice as long to write it and DuckDB ~7x as
long to parse it as to take the Arrow batches (bench/bench_mart.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa

from pipelines.core.common.queries import query
from pipelines.core.reports.mart import DATASETS

# dataset -> named query of sql/queries/reports.sql
EXPORTS = {
    "fatos_disparos": "day_disparos",
    "fatos_agendamentos": "day_agendamentos",
    "ingest_jobs": "day_ingest_jobs",
    "ingest_rejeicoes": "day_ingest_rejeicoes",
}


@dataclass(frozen=True)
class DayBounds:
    """The span that holds every tenant's `dia` (each in its own time zone); None when no tenant exists."""

    dia: date
    inicio: datetime | None
    fim: datetime | None

    @property
    def empty(self) -> bool:
        return self.inicio is None

    @property
    def params(self) -> dict[str, object]:
        return {"dia": self.dia, "inicio": self.inicio, "fim": self.fim}


def day_bounds(conn: psycopg.Connection, dia: date) -> DayBounds:
    row = conn.execute(query("reports", "day_bounds"), {"dia": dia}).fetchone()
    inicio, fim = (row["inicio"], row["fim"]) if isinstance(row, dict) else row
    return DayBounds(dia, inicio, fim)


def statement(conn: psycopg.Connection, dataset: str, bounds: DayBounds) -> str:
    """The dataset's export query with the day's values bound as literals by psycopg (ADBC turns the
    query into a COPY, which takes no parameters); comment lines dropped for the same reason."""
    text = "\n".join(
        line for line in query("reports", EXPORTS[dataset]).splitlines() if not line.lstrip().startswith("--")
    )
    return psycopg.ClientCursor(conn).mogrify(text, bounds.params)


@contextmanager
def arrow_source(url: str) -> Iterator[adbc.Connection]:
    """An ADBC connection (autocommit) to the product's PostgreSQL."""
    conn = adbc.connect(url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def fetch_day(source: adbc.Connection, text: str) -> Iterator[pa.RecordBatchReader]:
    """The day's rows as a stream of Arrow record batches (binary COPY under the hood), to be consumed
    inside the block."""
    cur = source.cursor()
    try:
        cur.execute(text)
        yield cur.fetch_record_batch()
    finally:
        cur.close()


def exported_columns(dataset: str) -> tuple[str, ...]:
    """Columns the export statement returns, in order (derived ones are added by the build)."""
    derived = {"ingest_jobs": ("taxa_rejeicao", "taxa_contato_valido")}.get(dataset, ())
    return tuple(c for c in DATASETS[dataset] if c not in derived)
