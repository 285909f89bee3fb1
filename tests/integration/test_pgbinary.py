"""The vectorized binary COPY encoder against the real server: what goes in comes back out unchanged."""

from __future__ import annotations

import uuid

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.ingest import pgbinary

COLUMNS = ["u", "t", "i", "b"]
TYPES = ["uuid", "text", "int4", "bool"]


def _roundtrip(conn, df: pl.DataFrame) -> list[tuple]:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rt (u uuid, t text, i integer, b boolean)")
    conn.execute("TRUNCATE rt")
    with conn.cursor().copy("COPY rt (u, t, i, b) FROM STDIN (FORMAT binary)") as cp:
        cp.write(pgbinary.encode(df, COLUMNS, TYPES))
    return [
        (str(r["u"]) if r["u"] else None, r["t"], r["i"], r["b"])
        for r in conn.execute("SELECT * FROM rt ORDER BY i")
    ]


def test_values_nulls_and_awkward_text_survive(conn) -> None:
    texts = [
        "Padaria São João",
        "",
        None,
        'aspas "duplas", vírgula; e\nnova linha\r\ttab \\ barra',
        "😀 emoji",
        "a" * 70000,
    ]
    df = pl.DataFrame(
        {
            "u": [str(uuid.uuid4()) for _ in texts[:-2]] + [None, str(uuid.uuid4())],
            "t": texts,
            "i": list(range(len(texts))),
            "b": [True, False, None, True, False, True],
        },
        schema={"u": pl.String, "t": pl.String, "i": pl.Int32, "b": pl.Boolean},
    )
    assert _roundtrip(conn, df) == list(df.rows())


def test_empty_frame_is_a_valid_stream(conn) -> None:
    df = pl.DataFrame(schema={"u": pl.String, "t": pl.String, "i": pl.Int32, "b": pl.Boolean})
    assert _roundtrip(conn, df) == []


def test_rejects_out_of_range_int_and_unknown_type() -> None:
    with pytest.raises(ValueError, match="int4"):
        pgbinary.encode(pl.DataFrame({"i": [2**31]}), ["i"], ["int4"])
    with pytest.raises(ValueError, match="unsupported"):
        pgbinary.encode(pl.DataFrame({"x": [1.5]}), ["x"], ["float8"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(), st.booleans()), min_size=1, max_size=30))
def test_any_text_roundtrips(conn, rows) -> None:
    df = pl.DataFrame(
        {"u": [str(uuid.uuid4()) for _ in rows], "t": [r[0] for r in rows], "i": list(range(len(rows))),
         "b": [r[1] for r in rows]},
        schema={"u": pl.String, "t": pl.String, "i": pl.Int32, "b": pl.Boolean},
    )  # fmt: skip
    texts = [t.replace("\x00", "") for t in df["t"].to_list()]  # PostgreSQL text cannot hold NUL
    df = df.with_columns(pl.Series("t", texts))
    assert _roundtrip(conn, df) == list(df.rows())
