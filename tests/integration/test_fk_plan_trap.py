"""0021: the set-based foreign-key checks (sql/0008_set_based_fks.sql) cannot take a catastrophic plan.

The trap (issue #17): `ANALYZE leads` run by another session (autovacuum) while a load is still uncommitted
counts none of its rows, so `leads` gets `reltuples = 0` over thousands of pages. The planner then took the
check of `lead_telefones` (`NOT EXISTS … FROM leads`) as a Nested Loop Anti Join over a Materialize of
`leads`: one pass over every lead for every new phone. This test sets the trap exactly that way and compares
a 5,000-row probe of the check with the same probe once the statistics are right: a ratio of two runs of
the same statement on the same data (no wall-clock bound)."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest

from pipelines.core.common.db import connect

LEADS = 30_000  # 1,000 pages at leads' fillfactor 50: the old plan takes ~100× the healthy one here
PROBE = 5_000
RUNS = 3
RATIO = 10  # generous: ~1-2× with the check plan-proof, ~70× with the functions of 0008 alone


def _load_leads(conn: psycopg.Connection, tenant_id: object) -> None:
    conn.execute(
        "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome) "
        "SELECT %s, 'L' || i, 'f.xlsx', 'Leads', i + 1, 'Lead ' || i FROM generate_series(1, %s) i",
        (tenant_id, LEADS),
    )


def _probe(conn: psycopg.Connection, tenant_id: object) -> float:
    """Seconds of one INSERT of PROBE phones of existing leads (its statement-level check included),
    rolled back; the best of RUNS."""
    best = float("inf")
    for _ in range(RUNS):
        with conn.transaction(force_rollback=True):
            t0 = time.perf_counter()
            n = conn.execute(
                "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) "
                "SELECT tenant_id, lead_id, '+55119' || lpad(linha_planilha::text, 8, '0') "
                "FROM leads WHERE tenant_id = %s ORDER BY lead_id_externo DESC LIMIT %s",
                (tenant_id, PROBE),
            ).rowcount
            best = min(best, time.perf_counter() - t0)
            assert n == PROBE
    return best


def _stats(conn: psycopg.Connection) -> tuple[float, int]:
    row = conn.execute("SELECT reltuples, relpages FROM pg_class WHERE oid = 'leads'::regclass").fetchone()
    return row["reltuples"], row["relpages"]


@pytest.fixture
def second(database_url: str):
    c = connect(database_url, autocommit=True)
    yield c
    c.close()


def _trapped_and_healthy(
    conn: psycopg.Connection, tenant_id: object, set_trap: Callable[[], None]
) -> tuple[float, float]:
    with conn.transaction(force_rollback=True):
        # A statement far longer than the healthy plan fails here rather than hanging the suite.
        conn.execute("SET LOCAL statement_timeout = '60s'")
        _load_leads(conn, tenant_id)
        set_trap()
        reltuples, relpages = _stats(conn)
        assert reltuples == 0 and relpages > 500  # the trap is set: no rows over many pages
        try:
            trapped = _probe(conn, tenant_id)
        except psycopg.errors.QueryCanceled:
            pytest.fail("the foreign-key check of 5,000 phones ran over 60 s with leads analyzed mid-load")
        conn.execute("ANALYZE leads")  # this transaction's own rows count: the statistics are right again
        assert _stats(conn)[0] > LEADS / 2
        healthy = _probe(conn, tenant_id)
    return trapped, healthy


def test_check_stays_fast_when_leads_is_analyzed_mid_load(conn, second, tenant) -> None:
    """The real sequence: a second connection (autovacuum's) analyzes `leads` under an uncommitted load."""
    trapped, healthy = _trapped_and_healthy(conn, tenant["id"], lambda: second.execute("ANALYZE leads"))
    assert trapped <= RATIO * healthy, (
        f"5,000-row check took {trapped * 1000:.0f} ms with leads analyzed mid-load vs "
        f"{healthy * 1000:.0f} ms with its statistics right ({trapped / healthy:.0f}×)"
    )


def test_check_is_plan_proof_in_every_function(conn) -> None:
    """Every set-based key function plans its queries without materialized rescans (the settings ride on
    the functions, so every key and both sides of it are covered)."""
    rows = conn.execute(
        "SELECT proname, proconfig FROM pg_proc WHERE proname IN ('fk_conjunto_verificar', 'fk_conjunto_pai_excluido')"
    ).fetchall()
    assert len(rows) == 2
    for row in rows:
        assert "enable_material=off" in (row["proconfig"] or []), row["proname"]
