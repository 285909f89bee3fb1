"""Formula injection: every CSV cell that starts like a formula gets a leading apostrophe (csvsafe)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from uuid import UUID

import polars as pl

from pipelines.core.common import csvsafe

HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","y")',
    "+5511999990000",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\rx",
]
HARMLESS = ["ok", "João", " =espaço antes", "a=b", "", "'já"]


def test_text_cells_that_start_like_a_formula_are_prefixed() -> None:
    assert [csvsafe.safe_cell(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [csvsafe.safe_cell(v) for v in HARMLESS] == HARMLESS


def test_other_types_are_written_as_they_are() -> None:
    assert csvsafe.safe_cell(-1) == "-1" and csvsafe.safe_cell(-2.5) == "-2.5"  # numbers stay numbers
    assert csvsafe.safe_cell(None) == ""
    assert csvsafe.safe_cell(datetime(2025, 3, 9, 12, 0)) == "2025-03-09T12:00:00"
    assert csvsafe.safe_cell(date(2025, 3, 9)) == "2025-03-09"
    u = UUID("01890000-0000-7000-8000-000000000000")
    assert csvsafe.safe_cell(u) == str(u)


def test_polars_frames_are_neutralized_column_wise() -> None:
    frame = pl.DataFrame({"nome": HOSTILE + HARMLESS + [None], "n": list(range(-7, len(HARMLESS) + 1))})
    out = csvsafe.neutralize(frame)
    assert out["nome"].to_list() == ["'" + v for v in HOSTILE] + HARMLESS + [None]
    assert out["n"].to_list() == frame["n"].to_list()  # non-text columns untouched
    lazy = csvsafe.neutralize(frame.lazy()).collect()
    assert lazy.equals(out)


def test_rows_csv_round_trips_with_the_prefix() -> None:
    text = csvsafe.rows_csv(["nome", "valor"], [(v, -1) for v in HOSTILE])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["nome", "valor"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in HOSTILE]
    assert {r[1] for r in rows[1:]} == {"-1"}
