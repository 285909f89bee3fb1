"""CSV cells a spreadsheet will not run (formula / CSV injection, OWASP): a text cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, so Excel, LibreOffice and
Google Sheets show it as text instead of evaluating `=HYPERLINK(…)` or `=cmd|' /C calc'!A0`.

One rule, three ways to apply it, for every CSV the product writes:
- `neutralize(frame)` / `safe_text(expr)`: vectorized over the String columns of a polars frame;
- `sql_safe(expr)`: the same rule as an SQL expression, for exports streamed by `COPY … TO STDOUT`;
- `safe_cell(value)` and `rows_csv(header, rows)`: for small tables of Python values.

Only text is touched: numbers (a negative count, a -3.5 rate) and dates are written as they are. The
apostrophe is visible to a program that reads the file back; that is the price of the protection (a phone
written `'+5511…` still reads as the same number once the apostrophe is stripped)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import polars as pl
from psycopg import sql

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"
# The same characters as a regex class ("-" last, so it is literal for both polars and PostgreSQL).
_PATTERN = "^[" + "".join(sorted(FORMULA_START, key=lambda c: c == "-")) + "]"


def safe_cell(value: Any) -> str:
    """One cell as text, prefixed when it is text that starts like a formula."""
    if value is None:
        return ""
    if isinstance(value, str):
        return PREFIX + value if value.startswith(FORMULA_START) else value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def rows_csv(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """A small table as CSV text with a header, every cell through `safe_cell`. Lines end in CRLF (RFC
    4180): the csv module quotes a cell holding a line break only if it is part of the line terminator."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def safe_text(expr: pl.Expr) -> pl.Expr:
    """A String expression with formula-like values prefixed (nulls stay null)."""
    return pl.when(expr.str.contains(_PATTERN)).then(pl.lit(PREFIX) + expr).otherwise(expr)


def neutralize(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Every String column of the frame through `safe_text`; other columns untouched."""
    schema = frame.collect_schema()
    text = [name for name, dtype in schema.items() if dtype == pl.String]
    return frame.with_columns(safe_text(pl.col(c)).alias(c) for c in text) if text else frame


def sql_safe(expr: sql.Composable) -> sql.Composed:
    """The same rule in SQL for a text expression: `CASE WHEN x ~ '^[…]' THEN '''' || x ELSE x END`."""
    return sql.SQL("CASE WHEN {x} ~ {p} THEN {q} || {x} ELSE {x} END").format(
        x=expr, p=sql.Literal(_PATTERN), q=sql.Literal(PREFIX)
    )
