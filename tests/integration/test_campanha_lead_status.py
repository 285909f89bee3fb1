"""A campaign over freshly ingested leads moves them novo -> em_disparo with HOT updates (sql/0010): no
index holds the status and the ingest leaves room on each page, so no lead index is written."""

from __future__ import annotations

from pathlib import Path

from disparos_support import make_template

from pipelines.core.disparos.campanhas import create_campanha
from pipelines.core.ingest import create_job, run_job
from pipelines.sample_sheet import generate


def test_campaign_status_change_is_heap_only(conn, database_url, tenant, tmp_path: Path) -> None:
    sheet = generate(tmp_path / "Leads.xlsx", 600, seed=3)
    job = run_job(database_url, create_job(conn, tenant["id"], sheet.name, str(sheet)))
    assert job["status"] == "concluido" and job["leads_criados"] > 400
    make_template(conn, tenant["id"], corpo="Oi {{nome}}")
    with conn.transaction():  # one transaction, so its own statistics count only what the campaign did
        result = create_campanha(
            conn,
            tenant["tenant"],
            {"canal": "whatsapp", "template": "cobranca", "filtro": {"status": "novo", "com_celular": True}},
        )
        stats = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'leads'"
        ).fetchone()
    with_mobile = conn.execute(
        """SELECT count(DISTINCT lead_id) AS n FROM lead_telefones
           WHERE tenant_id = %s AND valido_para_disparo AND tipo_origem = 'celular'""",
        (tenant["id"],),
    ).fetchone()["n"]
    assert result["criados"] == with_mobile > 0
    assert stats["n_tup_upd"] == result["criados"]
    assert stats["n_tup_hot_upd"] == stats["n_tup_upd"]
    statuses = conn.execute(
        """SELECT l.status, count(*) AS n FROM leads l WHERE l.tenant_id = %s
           AND EXISTS (SELECT 1 FROM disparos d WHERE d.lead_id = l.lead_id) GROUP BY l.status""",
        (tenant["id"],),
    ).fetchall()
    assert [(r["status"], r["n"]) for r in statuses] == [("em_disparo", result["criados"])]
