"""Row-level security (issue #16.12): the second wall behind the tenant_id filters. A query that forgets
its filter, run the way api_lite runs a tenant's request, sees and changes nothing of another tenant."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from disparos_support import make_lead
from fastapi.testclient import TestClient

from api_lite.deps import ConnDep, TenantDep
from api_lite.main import create_app
from pipelines.core.common.db import APP_ROLE, act_as_tenant, connect, leave_tenant, tenant_scope


@pytest.fixture
def two_tenants(conn, tenant, other_tenant) -> dict[str, Any]:
    for _ in range(3):
        make_lead(conn, tenant["id"])
    make_lead(conn, other_tenant["id"])
    return {"a": tenant, "b": other_tenant}


def _tenant_tables(conn, kinds: tuple[str, ...] = ("r", "p")) -> list[str]:
    return [
        r["relname"]
        for r in conn.execute(
            """SELECT c.relname FROM pg_class c
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = ANY(%s)
               ORDER BY 1""",
            (list(kinds),),
        ).fetchall()
    ]


def test_query_without_filter_sees_only_its_tenant(database_url, conn, two_tenants) -> None:
    a, b = two_tenants["a"], two_tenants["b"]
    assert conn.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 4  # the owner sees all
    with connect(database_url, autocommit=True) as app:
        act_as_tenant(app, a["id"])
        assert app.execute("SELECT current_user AS u").fetchone()["u"] == APP_ROLE
        assert app.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 3
        assert app.execute("SELECT count(*) AS n FROM lead_telefones").fetchone()["n"] == 3
        assert [r["slug"] for r in app.execute("SELECT slug FROM tenants").fetchall()] == ["acme"]
        # Every tenant table and view: nothing of another tenant, and no permission error (the grant exists).
        assert "telefones_whatsapp" in _tenant_tables(conn, ("v",))
        for table in _tenant_tables(conn, ("r", "p", "v")):
            n = app.execute(f"SELECT count(*) AS n FROM {table} WHERE tenant_id <> %s", (a["id"],)).fetchone()
            assert n["n"] == 0, table
        # Writes are fenced too: an unfiltered UPDATE touches only this tenant; another's row is refused.
        assert app.execute("UPDATE leads SET nome = 'x'").rowcount == 3
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(
                """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome)
                   VALUES (%s, 'intruso', 'f', 'Leads', 2, 'n')""",
                (b["id"],),
            )
        assert app.execute("DELETE FROM disparos").rowcount == 0
        leave_tenant(app)
        assert app.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 4
    assert conn.execute("SELECT count(*) AS n FROM leads WHERE nome = 'x'").fetchone()["n"] == 3


def test_role_without_tenant_sees_nothing(database_url, two_tenants) -> None:
    with connect(database_url, autocommit=True) as app:
        app.execute(f"SET ROLE {APP_ROLE}")
        assert app.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 0
        assert app.execute("SELECT count(*) AS n FROM tenants").fetchone()["n"] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT count(*) FROM schema_migrations")


def test_every_tenant_table_has_rls_policy_and_grant(conn) -> None:
    """A table added later with a tenant_id column must get the 0019 treatment (RLS, policy, grant); a view,
    security_invoker (else it reads its tables as their owner, past RLS) and a grant."""
    missing = []
    for table in [*_tenant_tables(conn), "tenants"]:
        row = conn.execute(
            """SELECT c.relrowsecurity AS rls,
                      EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname
                              AND p.policyname = 'tenant_isolation' AND %s = ANY(p.roles)) AS policy,
                      has_table_privilege(%s, c.oid, 'SELECT') AS grant_
               FROM pg_class c WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace""",
            (APP_ROLE, APP_ROLE, table),
        ).fetchone()
        if not (row["rls"] and row["policy"] and row["grant_"]):
            missing.append(table)
    views = conn.execute(
        """SELECT c.relname,
                  coalesce('security_invoker=true' = ANY(c.reloptions), false) AS invoker,
                  has_table_privilege(%s, c.oid, 'SELECT') AS grant_
           FROM pg_class c WHERE c.relkind = 'v' AND c.relnamespace = current_schema()::regnamespace""",
        (APP_ROLE,),
    ).fetchall()
    missing += [v["relname"] for v in views if not (v["invoker"] and v["grant_"])]
    assert missing == [], "tabelas/views sem RLS/política/grant (ver sql/0019_secrets_and_rls.sql)"


def test_tenant_scope_restores_the_owner_even_on_error(database_url, two_tenants) -> None:
    with connect(database_url, autocommit=True) as c:
        with pytest.raises(psycopg.errors.UndefinedTable):
            with tenant_scope(c, two_tenants["a"]["id"]):
                c.execute("SELECT * FROM nao_existe")
        row = c.execute("SELECT current_user AS u, current_setting('app.tenant_id', true) AS t").fetchone()
        assert row["u"] != APP_ROLE and row["t"] == ""


def test_api_request_path_runs_under_rls_and_the_pool_is_reset(database_url, two_tenants) -> None:
    """Through api_lite's own dependencies and a one-connection pool: a tenant request's unfiltered query
    sees its rows only, and the next request without a tenant gets the connection back as owner."""
    app = create_app(database_url, max_size=1)

    @app.get("/_probe/leads")
    def _count(conn: ConnDep, tenant: TenantDep) -> dict[str, Any]:
        return conn.execute("SELECT count(*) AS n, current_user AS u FROM leads").fetchone()

    @app.get("/_probe/sessao")
    def _session(conn: ConnDep) -> dict[str, Any]:
        return conn.execute(
            "SELECT current_user AS u, current_setting('app.tenant_id', true) AS t, "
            "(SELECT count(*) FROM leads) AS n"
        ).fetchone()

    with TestClient(app) as client:
        a, b = two_tenants["a"], two_tenants["b"]
        assert client.get("/_probe/leads", headers=a["headers"]).json() == {"n": 3, "u": APP_ROLE}
        assert client.get("/_probe/leads", headers=b["headers"]).json() == {"n": 1, "u": APP_ROLE}
        session = client.get("/_probe/sessao").json()
        assert session["u"] != APP_ROLE and session["t"] == "" and session["n"] == 4
        # A request that fails after authentication still hands the connection back reset.
        assert (
            client.get("/leads/00000000-0000-0000-0000-000000000000", headers=a["headers"]).status_code == 404
        )
        assert client.get("/_probe/sessao").json() == session
