"""The queue keeps one index on pending disparos (sql/0006): idx_disparos_claim, tenant first, so a tenant's
claim never walks another tenant's due backlog; the redundant idx_disparos_due / idx_disparos_status are gone."""

from __future__ import annotations

from bench.send_data import seed_due
from pipelines.core.send import engine as sender


def _plan(conn, sql: str, params: dict) -> str:
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its index
        rows = conn.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


def test_disparos_indexes_after_migrations(conn) -> None:
    names = {
        r["indexname"] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'disparos'")
    }
    assert "idx_disparos_claim" in names
    assert not names & {"idx_disparos_due", "idx_disparos_status"}


def test_queue_queries_use_the_claim_index(conn, tenant, other_tenant) -> None:
    seed_due(conn, tenant["id"], 20)
    seed_due(conn, other_tenant["id"], 5, prefix="O")
    conn.execute("ANALYZE disparos")
    claim = _plan(
        conn,
        sender._CLAIM.format(ids=""),
        {"tenants": [other_tenant["id"]], "canais": ["whatsapp"], "caps": [5], "lease": 60, "owner": "t"},
    )
    assert "idx_disparos_claim" in claim and "Index Cond: ((tenant_id = g.tenant_id)" in claim
    due_sql, due_params = sender._due_sql(None, None, None)
    assert "idx_disparos_claim" in _plan(conn, due_sql, due_params)
