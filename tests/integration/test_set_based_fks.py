"""0007/0008: the bulk tables keep only the indexes queries use, and their foreign keys are enforced per
statement (sql/0008_set_based_fks.sql) with the native key's errors, actions and concurrency guarantees."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from pipelines.core.common.db import connect

_LEAD = (
    "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome, ingest_job_id) "
    "VALUES (%s, %s, 'f.xlsx', 'Leads', 2, 'X', %s) RETURNING lead_id"
)

SET_BASED = {
    "leads_tenant_id_fkey", "leads_ingest_job_id_fkey", "lead_telefones_tenant_id_lead_id_fkey",
    "lead_emails_tenant_id_lead_id_fkey", "disparos_tenant_id_lead_id_fkey", "disparos_tenant_id_campanha_id_fkey",
    "disparos_tenant_id_telefone_id_fkey", "disparos_tenant_id_email_id_fkey", "agendamentos_tenant_id_lead_id_fkey",
    "disparos_dlq_tenant_id_disparo_id_fkey",
}  # fmt: skip


def _lead(conn: psycopg.Connection, tenant_id: Any, externo: str = "L1", job: Any = None) -> uuid.UUID:
    return conn.execute(_LEAD, (tenant_id, externo, job)).fetchone()["lead_id"]


def _phone(conn: psycopg.Connection, tenant_id: Any, lead_id: Any, tel: str = "+5511987654321") -> uuid.UUID:
    return conn.execute(
        "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) VALUES (%s, %s, %s) RETURNING telefone_id",
        (tenant_id, lead_id, tel),
    ).fetchone()["telefone_id"]


def _count(conn: psycopg.Connection, sql: str, *args: Any) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {sql}", args).fetchone()["n"]


def test_indexes_and_keys_in_place(conn) -> None:
    names = {
        r["indexname"]
        for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('leads', 'lead_telefones', 'lead_emails')"
        ).fetchall()
    }
    dropped = {
        "idx_leads_documento", "idx_leads_tags", "idx_telefones_tenant_tel", "idx_emails_tenant_email",
        "uk_tenant_lead", "idx_leads_job", "idx_leads_tenant_arquivo",
        "lead_telefones_tenant_id_telefone_id_key", "lead_emails_tenant_id_email_id_key",
    }  # fmt: skip
    assert not names & dropped
    assert {
        "leads_pkey",
        "uk_tenant_lead_externo",
        "uk_lead_telefone",
        "uk_lead_email",
    } <= names
    # 0010: no index holds leads.status, and leads keep room on their pages, so a status change is HOT.
    assert "idx_leads_tenant_status" not in names
    leads_options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'leads'").fetchone()
    assert "fillfactor=50" in leads_options["reloptions"]
    disparos_idx = {
        r["indexname"]: r["indexdef"]
        for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'disparos'"
        ).fetchall()
    }
    assert "disparos_tenant_id_disparo_id_key" not in disparos_idx
    assert "USING brin (campanha_id uuid_bloom_ops)" in disparos_idx["idx_disparos_campanha"]
    native = conn.execute(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid::regclass::text IN ('leads', 'lead_telefones', 'lead_emails', 'disparos', 'agendamentos', 'disparos_dlq')"
    ).fetchall()
    assert {r["conname"] for r in native} & SET_BASED == set()
    triggers = {
        r["tgname"] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall()
    }
    assert SET_BASED <= triggers


def test_missing_or_other_tenants_parent_is_a_foreign_key_violation(conn, tenant, other_tenant) -> None:
    lead = _lead(conn, tenant["id"])
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        _lead(conn, uuid.uuid4(), "L2")
    assert err.value.diag.constraint_name == "leads_tenant_id_fkey"
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        _lead(conn, tenant["id"], "L3", uuid.uuid4())
    assert err.value.diag.constraint_name == "leads_ingest_job_id_fkey"
    # The other tenant's id with this tenant's lead: the key is (tenant_id, lead_id), so it is missing.
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        _phone(conn, other_tenant["id"], lead)
    assert err.value.diag.constraint_name == "lead_telefones_tenant_id_lead_id_fkey"
    assert str(lead) in (err.value.diag.message_detail or "")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "INSERT INTO lead_emails (tenant_id, lead_id, email) VALUES (%s, %s, 'a@b.com.br')",
            (other_tenant["id"], lead),
        )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "INSERT INTO agendamentos (tenant_id, lead_id, tipo, canal, data_agendada) "
            "VALUES (%s, %s, 'callback', 'telefone', now())",
            (other_tenant["id"], lead),
        )
    assert _count(conn, "leads") == 1 and _count(conn, "lead_telefones") == 0


def test_one_bad_row_fails_the_whole_bulk_statement(conn, tenant) -> None:
    leads = [_lead(conn, tenant["id"], f"L{i}") for i in range(3)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        conn.execute(
            "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) "
            "SELECT %s, x, '+5511987654321' FROM unnest(%s::uuid[]) x",
            (tenant["id"], [*leads, uuid.uuid4()]),
        )
    assert 'is not present in table "leads"' in (err.value.diag.message_detail or "")
    assert _count(conn, "lead_telefones") == 0
    conn.execute(
        "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) SELECT %s, x, '+5511987654321' FROM unnest(%s::uuid[]) x",
        (tenant["id"], leads),
    )
    assert _count(conn, "lead_telefones") == 3


def _disparo(
    conn: psycopg.Connection, tenant_id: Any, lead: Any, telefone: Any, campanha: Any = None
) -> None:
    conn.execute(
        "INSERT INTO disparos (tenant_id, lead_id, canal, telefone_id, destino, template, campanha_id) "
        "VALUES (%s, %s, 'whatsapp', %s, '+5511987654321', 't', %s)",
        (tenant_id, lead, telefone, campanha),
    )


def test_disparo_keys(conn, tenant, other_tenant) -> None:
    lead = _lead(conn, tenant["id"])
    tel = _phone(conn, tenant["id"], lead)
    other_lead = _lead(conn, other_tenant["id"])
    other_tel = _phone(conn, other_tenant["id"], other_lead)
    for bad_lead, bad_tel, name in (
        (other_lead, tel, "disparos_tenant_id_lead_id_fkey"),
        (lead, other_tel, "disparos_tenant_id_telefone_id_fkey"),
    ):
        with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
            _disparo(conn, tenant["id"], bad_lead, bad_tel)
        assert err.value.diag.constraint_name == name
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
        _disparo(conn, tenant["id"], lead, tel, uuid.uuid4())
    assert err.value.diag.constraint_name == "disparos_tenant_id_campanha_id_fkey"
    _disparo(conn, tenant["id"], lead, tel)
    # NO ACTION on the parents: a lead or phone with a disparo cannot go.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("DELETE FROM lead_telefones WHERE telefone_id = %s", (tel,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("DELETE FROM leads WHERE lead_id = %s", (lead,))
    assert _count(conn, "leads WHERE lead_id = %s", lead) == 1


def test_dead_letter_key_is_the_disparo_of_the_same_tenant(conn, tenant, other_tenant) -> None:
    lead = _lead(conn, tenant["id"])
    _disparo(conn, tenant["id"], lead, _phone(conn, tenant["id"], lead))
    disparo = conn.execute("SELECT disparo_id FROM disparos").fetchone()["disparo_id"]
    dlq = (
        "INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, tentativas) "
        "VALUES (%s, %s, 'whatsapp', '{}', 1)"
    )
    for bad_tenant, bad_disparo in ((other_tenant["id"], disparo), (tenant["id"], uuid.uuid4())):
        with pytest.raises(psycopg.errors.ForeignKeyViolation) as err:
            conn.execute(dlq, (bad_tenant, bad_disparo))
        assert err.value.diag.constraint_name == "disparos_dlq_tenant_id_disparo_id_fkey"
    conn.execute(dlq, (tenant["id"], disparo))
    conn.execute("DELETE FROM disparos WHERE disparo_id = %s", (disparo,))  # ON DELETE CASCADE, as before
    assert _count(conn, "disparos_dlq") == 0


def test_parent_actions_cascade_set_null_restrict(conn, tenant) -> None:
    job = conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem) VALUES (%s, 'f.xlsx') RETURNING job_id",
        (tenant["id"],),
    ).fetchone()["job_id"]
    lead = _lead(conn, tenant["id"], "L1", job)
    keep = _lead(conn, tenant["id"], "L2", job)
    _phone(conn, tenant["id"], lead)
    _phone(conn, tenant["id"], keep)
    conn.execute(
        "INSERT INTO lead_emails (tenant_id, lead_id, email) VALUES (%s, %s, 'a@b.com.br')",
        (tenant["id"], lead),
    )
    conn.execute("DELETE FROM leads WHERE lead_id = %s", (lead,))  # ON DELETE CASCADE
    assert _count(conn, "lead_telefones WHERE lead_id = %s", lead) == 0
    assert _count(conn, "lead_emails") == 0
    assert _count(conn, "lead_telefones WHERE lead_id = %s", keep) == 1
    conn.execute("DELETE FROM ingest_jobs WHERE job_id = %s", (job,))  # ON DELETE SET NULL
    assert (
        conn.execute("SELECT ingest_job_id FROM leads WHERE lead_id = %s", (keep,)).fetchone()[
            "ingest_job_id"
        ]
        is None
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):  # NO ACTION: a tenant with leads stays
        conn.execute("DELETE FROM tenants WHERE id = %s", (tenant["id"],))


def test_keys_do_not_change_and_references_are_checked_on_update(conn, tenant, other_tenant) -> None:
    lead = _lead(conn, tenant["id"])
    _phone(conn, tenant["id"], lead)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("UPDATE leads SET lead_id = gen_random_uuid()")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("UPDATE lead_telefones SET tenant_id = %s", (other_tenant["id"],))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("UPDATE leads SET ingest_job_id = gen_random_uuid()")
    conn.execute("UPDATE leads SET nome = 'Y', tenant_id = tenant_id")  # same values: allowed
    assert conn.execute("SELECT nome FROM leads").fetchone()["nome"] == "Y"


def test_truncate_a_parent_alone_is_refused(conn, tenant) -> None:
    lead = _lead(conn, tenant["id"])
    _phone(conn, tenant["id"], lead)
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("TRUNCATE leads")
    conn.execute("TRUNCATE leads, lead_telefones, lead_emails, disparos, agendamentos CASCADE")
    assert _count(conn, "leads") == 0


def _wait_until_blocked(conn: psycopg.Connection, pid: int) -> None:
    for _ in range(200):
        row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row["wait_event_type"] == "Lock":
            return
        time.sleep(0.02)
    raise AssertionError("the second transaction never waited for the first")


def _blocked_until(conn, waiter: psycopg.Connection, work, release) -> BaseException | None:
    """Run `work(waiter)` then commit in a thread; once its backend waits on a lock, call `release()`.
    Returns the error `work` ended with (None if it committed)."""
    pid = waiter.execute("SELECT pg_backend_pid() AS p").fetchone()["p"]
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            work(waiter)
            waiter.commit()
            done["error"] = None
        except psycopg.Error as exc:
            done["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    _wait_until_blocked(conn, pid)
    release()
    t.join(10)
    assert "error" in done, "the waiting transaction did not finish"
    return done["error"]


def test_delete_waits_for_an_insert_in_flight_and_cascades_its_children(conn, database_url, tenant) -> None:
    lead = _lead(conn, tenant["id"])
    with connect(database_url) as inserter, connect(database_url) as deleter:
        _phone(inserter, tenant["id"], lead)  # open transaction, not committed
        error = _blocked_until(
            conn,
            deleter,
            lambda c: c.execute("DELETE FROM leads WHERE lead_id = %s", (lead,)),
            inserter.commit,
        )
    assert error is None
    assert _count(conn, "leads") == 0 and _count(conn, "lead_telefones") == 0  # no orphan


def test_insert_after_a_delete_in_flight_sees_the_parent_gone(conn, database_url, tenant) -> None:
    lead = _lead(conn, tenant["id"])
    with connect(database_url) as inserter, connect(database_url) as deleter:
        deleter.execute("DELETE FROM leads WHERE lead_id = %s", (lead,))  # not committed
        error = _blocked_until(conn, inserter, lambda c: _phone(c, tenant["id"], lead), deleter.commit)
    assert isinstance(error, psycopg.errors.ForeignKeyViolation)
    assert _count(conn, "lead_telefones") == 0


def test_repeatable_read_locks_parent_rows(conn, database_url, tenant) -> None:
    """Under REPEATABLE READ the child checks lock the parents (a concurrent delete then fails), and a parent
    delete is refused rather than risk missing children committed after its snapshot."""
    lead = _lead(conn, tenant["id"])
    rr = connect(database_url)
    try:
        rr.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _phone(rr, tenant["id"], lead)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            _phone(rr, tenant["id"], uuid.uuid4(), "+5511912345678")
        rr.rollback()
        rr.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _phone(rr, tenant["id"], lead)
        with connect(database_url) as other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT 1 FROM leads WHERE lead_id = %s FOR UPDATE NOWAIT", (lead,))
        rr.rollback()
        rr.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            rr.execute("DELETE FROM leads WHERE lead_id = %s", (lead,))
        rr.rollback()
    finally:
        rr.close()
