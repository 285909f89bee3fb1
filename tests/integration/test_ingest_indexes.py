"""0007: the ingest-only-cost indexes are gone, and what guards tenant isolation (uniques, foreign keys)
and what queries use is still there."""

from __future__ import annotations


def test_unused_lead_indexes_dropped_guards_kept(conn) -> None:
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename IN ('leads', 'lead_telefones', 'lead_emails')"
    ).fetchall()
    names = {r["indexname"] for r in rows}
    dropped = {"idx_leads_documento", "idx_leads_tags", "idx_telefones_tenant_tel", "idx_emails_tenant_email"}
    assert not names & dropped
    assert {
        "uk_tenant_lead_externo", "uk_tenant_lead", "uk_lead_telefone", "uk_lead_email",
        "idx_leads_tenant_status", "idx_leads_job", "idx_leads_tenant_arquivo",
    } <= names  # fmt: skip
    fks = conn.execute(
        "SELECT conrelid::regclass::text AS t, count(*) AS n FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid::regclass::text IN ('leads', 'lead_telefones', 'lead_emails') GROUP BY 1"
    ).fetchall()
    assert {r["t"]: r["n"] for r in fks} == {"leads": 2, "lead_telefones": 1, "lead_emails": 1}
