"""DLQ redrive vs the one-active-disparo-per-lead-and-campaign index (uq_disparos_campanha_lead_ativo):
rows that cannot come back are skipped and counted, the rest of the batch is re-driven."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from disparos_support import make_lead, make_template

from bench.send_data import seed_due
from pipelines.core.common.db import connect
from pipelines.core.common.settings import Settings
from pipelines.core.disparos.campanhas import aplicar_campanha, create_campanha
from pipelines.core.disparos.single import cancel_disparo
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import list_dlq, redrive


@pytest.fixture
def failing_mcp(sim, monkeypatch):
    """The simulator refuses every message (4xx: permanent failure, straight to the DLQ)."""
    httpx.post(sim.url + "/sim/reset").raise_for_status()
    httpx.post(sim.url + "/sim/config", json={"rate_4xx": 1.0}).raise_for_status()
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", sim.url)
    monkeypatch.setenv("MCP_TOKEN", "tok")
    return Settings.from_env().model_copy(
        update=dict(mcp_whatsapp_endpoint=sim.url, mcp_email_endpoint=sim.url, mcp_token="tok")
    )


def _campaign(conn, tenant, n_leads: int) -> tuple[str, list[str]]:
    leads = [make_lead(conn, tenant["id"])["lead_id"] for _ in range(n_leads)]
    make_template(conn, tenant["id"])
    camp = create_campanha(
        conn, tenant["tenant"], {"canal": "whatsapp", "template": "cobranca", "variaveis": {"valor": "R$ 10"}}
    )
    assert camp["criados"] == n_leads
    return camp["campanha_id"], leads


def _fail_all(database_url, settings) -> None:
    stats = sender.send_due(database_url, settings=settings)
    assert stats.falhas == stats.dlq > 0


def _by_lead(conn, campanha_id) -> dict[str, list[tuple[str, str]]]:
    """lead_id -> [(disparo_id, status)], oldest first."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in conn.execute(
        "SELECT lead_id, disparo_id, status FROM disparos WHERE campanha_id = %s ORDER BY created_at, disparo_id",
        (campanha_id,),
    ).fetchall():
        out.setdefault(str(r["lead_id"]), []).append((str(r["disparo_id"]), r["status"]))
    return out


def test_redrive_skips_lead_with_newer_active_disparo(conn, database_url, tenant, failing_mcp) -> None:
    cid, (l1, l2) = _campaign(conn, tenant, 2)
    avulso = seed_due(conn, tenant["id"], 1, prefix="A")  # not in a campaign: never skipped
    _fail_all(database_url, failing_mcp)
    aplicado = aplicar_campanha(conn, tenant["tenant"], cid)  # both leads get a new pendente disparo
    assert aplicado["criados"] == 2
    cancel_disparo(conn, tenant["id"], _by_lead(conn, cid)[l2][1][0])  # l2's new one: no longer active

    result = redrive(conn, tenant_id=tenant["id"])

    assert (result.redriven, result.skipped) == (2, 1)
    rows = _by_lead(conn, cid)
    assert [s for _, s in rows[l1]] == ["erro", "pendente"]  # old one stays dead: the new one is active
    assert [s for _, s in rows[l2]] == ["pendente", "cancelado"]
    assert (
        conn.execute("SELECT status FROM disparos WHERE disparo_id = %s", (avulso[0],)).fetchone()["status"]
        == "pendente"
    )
    # the skipped one stays in the DLQ (a later redrive takes it once the active one ends in erro)
    assert [str(d["disparo_id"]) for d in list_dlq(conn, tenant["id"])] == [rows[l1][0][0]]
    again = redrive(conn, tenant_id=tenant["id"])
    assert (again.redriven, again.skipped) == (0, 1)


def test_redrive_brings_back_only_the_newest_of_one_lead(conn, database_url, tenant, failing_mcp) -> None:
    cid, (lead,) = _campaign(conn, tenant, 1)
    _fail_all(database_url, failing_mcp)
    assert aplicar_campanha(conn, tenant["tenant"], cid)["criados"] == 1
    _fail_all(database_url, failing_mcp)
    (old, _), (new, _) = _by_lead(conn, cid)[lead]
    assert len(list_dlq(conn, tenant["id"])) == 2  # two erro disparos of one lead and campaign

    result = redrive(conn, tenant_id=tenant["id"])

    assert (result.redriven, result.skipped) == (1, 1)
    assert _by_lead(conn, cid)[lead] == [(old, "erro"), (new, "pendente")]
    assert [str(d["disparo_id"]) for d in list_dlq(conn, tenant["id"])] == [old]


@pytest.mark.parametrize("writer", ["aplicar", "sem_trava"])
def test_redrive_waits_for_a_concurrent_writer_and_skips(
    conn, database_url, tenant, failing_mcp, writer
) -> None:
    """aplicar holds its campaign (the redrive waits for it up front); a writer that does not lock the
    campaign makes the redrive statement hit the unique index: it is retried and skips, not failed."""
    cid, (lead,) = _campaign(conn, tenant, 1)
    _fail_all(database_url, failing_mcp)
    other = connect(database_url)  # not autocommit: the new active row stays uncommitted until we say so
    try:
        other.execute("SELECT 1")
        if writer == "aplicar":
            assert aplicar_campanha(other, tenant["tenant"], cid)["criados"] == 1
        else:
            other.execute(
                """INSERT INTO disparos (tenant_id, lead_id, campanha_id, canal, telefone_id, destino, template,
                                         payload)
                   SELECT tenant_id, lead_id, campanha_id, canal, telefone_id, destino, template, payload
                   FROM disparos WHERE campanha_id = %s""",
                (cid,),
            )
        box: dict = {}

        def run() -> None:
            with connect(database_url, autocommit=True) as c:
                try:
                    box["result"] = redrive(c, tenant_id=tenant["id"])
                except Exception as exc:  # reported below
                    box["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive()  # waiting for the other transaction (campaign lock or index entry)
        other.commit()
        thread.join(10)
    finally:
        other.close()
    assert "error" not in box, box.get("error")
    assert (box["result"].redriven, box["result"].skipped) == (0, 1)
    assert [s for _, s in _by_lead(conn, cid)[lead]] == ["erro", "pendente"]


def test_cli_redrive_reports_skipped(conn, database_url, tenant, failing_mcp, cli) -> None:
    cid, (l1, l2) = _campaign(conn, tenant, 2)
    _fail_all(database_url, failing_mcp)
    aplicar_campanha(conn, tenant["tenant"], cid)
    cancel_disparo(conn, tenant["id"], _by_lead(conn, cid)[l2][1][0])
    code, out, _ = cli("dlq", "redrive", "--tenant", "acme")
    assert code == 0 and out.startswith("1 disparo(s) devolvido(s) para pendente · 1 ignorado(s)")
    code, out, _ = cli("dlq", "redrive", "--tenant", "acme", "--json")
    assert code == 0 and json.loads(out) == {"redriven": 0, "skipped": 1}
