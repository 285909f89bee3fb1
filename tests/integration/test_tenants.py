from __future__ import annotations

import json

import psycopg
import pytest

from pipelines.core.common.errors import AuthError, ConflictError, NotFoundError, ValidationError
from pipelines.core.tenancy.tenants import authenticate, create_tenant, revoke_api_key, update_tenant


def test_key_is_stored_only_as_hash(conn, tenant) -> None:
    rows = conn.execute("SELECT prefixo, hash FROM api_keys").fetchall()
    assert len(rows) == 1
    assert tenant["api_key"] not in rows[0]["hash"]
    assert tenant["api_key"].startswith(f"dak_{rows[0]['prefixo']}_")


def test_authenticate_good_bad_revoked(conn, tenant, other_tenant) -> None:
    assert authenticate(conn, tenant["api_key"]).id == tenant["id"]
    assert authenticate(conn, other_tenant["api_key"]).id == other_tenant["id"]
    tampered = tenant["api_key"][:-2] + ("AA" if not tenant["api_key"].endswith("AA") else "BB")
    for bad in (None, "", "nope", "dak_x", tampered):
        with pytest.raises(AuthError):
            authenticate(conn, bad)
    revoke_api_key(conn, "acme", tenant["api_key"])
    with pytest.raises(AuthError):
        authenticate(conn, tenant["api_key"])
    assert authenticate(conn, other_tenant["api_key"]).id == other_tenant["id"]


def test_duplicate_slug_conflicts(conn, tenant) -> None:
    with pytest.raises(ConflictError):
        create_tenant(conn, "acme")


def test_lead_id_externo_unique_per_tenant_only(conn, tenant, other_tenant) -> None:
    sql = (
        "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome) "
        "VALUES (%s, 'L1', 'f.xlsx', 'Leads', 2, 'X')"
    )
    conn.execute(sql, (tenant["id"],))
    conn.execute(sql, (other_tenant["id"],))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(sql, (tenant["id"],))


def test_child_row_cannot_point_at_other_tenants_lead(conn, tenant, other_tenant) -> None:
    lead = conn.execute(
        "INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome) "
        "VALUES (%s, 'L1', 'f.xlsx', 'Leads', 2, 'X') RETURNING lead_id",
        (tenant["id"],),
    ).fetchone()
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "INSERT INTO lead_telefones (tenant_id, lead_id, telefone) VALUES (%s, %s, '+5511987654321')",
            (other_tenant["id"], lead["lead_id"]),
        )


def test_status_columns_are_constrained(conn, tenant) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status) VALUES (%s, 'a.xlsx', 'feito')",
            (tenant["id"],),
        )


def test_update_settings_validates_window(conn, tenant) -> None:
    janela = {"seg": [["08:00", "20:00"]], "sab": [["08:00", "14:00"]]}
    t = update_tenant(conn, "acme", janela_envio=janela, rate_limit_whatsapp=10)
    assert t.janela_envio == janela and t.rate_limit_whatsapp == 10
    with pytest.raises(ValidationError):
        update_tenant(conn, "acme", janela_envio={"seg": [["20:00", "08:00"]]})
    with pytest.raises(ValidationError):
        update_tenant(conn, "acme", timezone="Mars/Olympus")
    with pytest.raises(NotFoundError):
        update_tenant(conn, "ninguem", nome="x")


def test_cli_tenant_create_json_and_errors(cli) -> None:
    code, out, _ = cli("tenant", "create", "loja", "--nome", "Loja", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"tenant_id", "slug", "api_key"} and doc["slug"] == "loja"
    code, out, err = cli("tenant", "create", "loja")
    assert code != 0 and err.startswith("erro:") and "Traceback" not in err
    code, out, err = cli("tenant", "set", "fantasma", "--nome", "x")
    assert code != 0 and "tenant desconhecido" in err
    code, out, _ = cli("tenant", "list")
    assert code == 0 and "loja" in out


def test_cli_webhook_secret_show_and_rotate(cli, conn) -> None:
    cli("tenant", "create", "loja")
    code, first, _ = cli("tenant", "webhook-secret", "loja")
    assert code == 0 and len(first.strip()) == 64
    code, rotated, _ = cli("tenant", "webhook-secret", "loja", "--rotate")
    assert code == 0 and rotated.strip() != first.strip()
    code, shown, _ = cli("tenant", "webhook-secret", "loja")
    assert shown == rotated


def test_cli_set_slot_minutes(cli, conn) -> None:
    cli("tenant", "create", "loja")
    code, _, err = cli("tenant", "set", "loja", "--agendamento-slot-minutos", "45")
    assert code == 0, err
    assert (
        conn.execute("SELECT agendamento_slot_minutos FROM tenants WHERE slug='loja'").fetchone()[
            "agendamento_slot_minutos"
        ]
        == 45
    )
    code, _, err = cli("tenant", "set", "loja", "--agendamento-slot-minutos", "0")
    assert code != 0 and err.startswith("erro:")


@pytest.mark.parametrize("form", ["listed", "listed_ascii", "readme", "readme_ellipsis", "bare", "full"])
def test_cli_key_revoke_accepts_the_printed_forms(cli, conn, form) -> None:
    """`key-list` prints `dak_<prefixo>_…` and the README shows `dak_<prefixo>`: both revoke (issue #16.4)."""
    code, out, _ = cli("tenant", "create", "alfa", "--json")
    key = json.loads(out)["api_key"]
    assert authenticate(conn, key).slug == "alfa"
    code, out, _ = cli("tenant", "key-list", "alfa")
    listed = out.split()[0]
    prefixo = key.split("_")[1]
    assert listed == f"dak_{prefixo}_…"
    given = {
        "listed": listed,
        "listed_ascii": f"dak_{prefixo}_...",
        "readme": f"dak_{prefixo}",
        "readme_ellipsis": f"dak_{prefixo}…",
        "bare": prefixo,
        "full": key,
    }[form]
    code, out, err = cli("tenant", "key-revoke", "alfa", given)
    assert (code, out.strip(), err) == (0, "chave revogada", "")
    with pytest.raises(AuthError):
        authenticate(conn, key)
    code, _, err = cli("tenant", "key-revoke", "alfa", given)  # already revoked
    assert code != 0 and err.startswith("erro:") and "não encontrada" in err
