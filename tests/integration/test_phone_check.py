"""0009: the regex-free E.164 check on lead_telefones accepts exactly what the old regex accepted."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REGEX = r"^\+55[1-9][0-9]{9,10}$"
_ALPHABET = "+0123456789 -()\n\t5a١²٣"  # ASCII and non-ASCII digits, separators, letters
_candidates = st.one_of(
    st.text(alphabet=_ALPHABET, max_size=16),
    st.builds(
        lambda a, b: "+55" + a + b, st.sampled_from("0123456789١a"), st.text(alphabet=_ALPHABET, max_size=12)
    ),
    st.builds(lambda d, n: f"+55{d}" + "9" * n, st.integers(0, 9), st.integers(7, 12)),
)


def _check_expr(conn) -> str:
    return conn.execute(
        "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'lead_telefones_telefone_check'"
    ).fetchone()["d"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_candidates, min_size=1, max_size=40))
def test_same_verdict_as_the_regex(conn, values) -> None:
    expr = _check_expr(conn)
    assert "~" not in expr  # no regular expression left in the constraint
    body = expr.removeprefix("CHECK ").replace("telefone", "s")
    rows = conn.execute(
        f"SELECT s, (s ~ %s) AS regex, {body} AS novo FROM unnest(%s::text[]) s", (REGEX, values)
    ).fetchall()
    assert [(r["s"], r["regex"]) for r in rows] == [(r["s"], r["novo"]) for r in rows]


def test_constraint_rejects_a_bad_phone(conn, tenant) -> None:
    lead = conn.execute(
        "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome) "
        "VALUES (%s, 'L1', 'f.xlsx', 'Leads', 2, 'X') RETURNING lead_id",
        (tenant["id"],),
    ).fetchone()["lead_id"]
    insert = "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) VALUES (%s, %s, %s)"
    conn.execute(insert, (tenant["id"], lead, "+5511987654321"))
    for bad in ("+55119876543", "+5501987654321", "+551198765432a", "5511987654321", "+55119876543210"):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (tenant["id"], lead, bad))
