"""The SQL form of the formula-injection rule agrees with the Python one (csvsafe.sql_safe)."""

from __future__ import annotations

from psycopg import sql

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
HARMLESS = ["ok", "João", " =espaço antes", "a=b", "", "'já", "x\n=y"]


def test_sql_rule_agrees_with_python(conn) -> None:
    values = HOSTILE + HARMLESS
    statement = sql.SQL(
        "SELECT {} AS v FROM unnest(%s::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i"
    ).format(csvsafe.sql_safe(sql.Identifier("x")))
    got = [r["v"] for r in conn.execute(statement, (values,)).fetchall()]
    assert got == [csvsafe.safe_cell(v) for v in values]
    assert (
        conn.execute(sql.SQL("SELECT {} AS v").format(csvsafe.sql_safe(sql.Literal(None)))).fetchone()["v"]
        is None
    )
