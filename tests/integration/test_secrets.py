"""Secrets at rest (issue #15.4): webhook secrets encrypted with the installation's key, plaintext ones
from older versions sealed by `db migrate`, and per-tenant revocable .ics feed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat

import pytest
from cryptography.fernet import Fernet

from pipelines.core.agenda.ics import feed_token, rotate_feed_tokens, verify_token
from pipelines.core.common.errors import ConfigError, NotFoundError
from pipelines.core.common.migrate import SQL_DIR, migrate
from pipelines.core.tenancy import secrets as tenant_secrets
from pipelines.core.tenancy.tenants import create_tenant, get_webhook_secret, rotate_webhook_secret


@pytest.fixture(autouse=True)
def _own_key_home(tmp_path, monkeypatch):
    """Each test: its own DISPARO_AGENDA_HOME (key file) and no key in the environment."""
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(tenant_secrets.ENV_KEY, raising=False)
    return tmp_path / "home"


def _row_text(conn, slug: str) -> str:
    return conn.execute(
        "SELECT row_to_json(t)::text AS j FROM tenants t WHERE slug = %s", (slug,)
    ).fetchone()["j"]


def test_webhook_secret_is_not_stored_in_clear(conn, _own_key_home) -> None:
    tenant, _ = create_tenant(conn, "loja")
    secret = get_webhook_secret(conn, tenant.id)
    assert len(secret) == 64 and secret not in _row_text(conn, "loja")
    rotated = rotate_webhook_secret(conn, "loja")
    assert rotated != secret and rotated not in _row_text(conn, "loja")
    assert get_webhook_secret(conn, tenant.id) == rotated
    # The embedded default generated its key, readable by the owner only.
    key_file = _own_key_home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a valid Fernet key


def test_wrong_key_is_a_clear_error(conn, cli, monkeypatch) -> None:
    create_tenant(conn, "loja")
    monkeypatch.setenv(tenant_secrets.ENV_KEY, Fernet.generate_key().decode())
    with pytest.raises(ConfigError, match="não é a usada para cifrá-lo"):
        get_webhook_secret(conn, conn.execute("SELECT id FROM tenants").fetchone()["id"])
    code, out, err = cli("tenant", "webhook-secret", "loja")
    assert code != 0 and err.startswith("erro:") and "Traceback" not in err and out == ""
    monkeypatch.setenv(tenant_secrets.ENV_KEY, "não-é-uma-chave")
    code, _, err = cli("tenant", "webhook-secret", "loja")
    assert code != 0 and "chave de cifragem inválida" in err


def test_key_rotation_with_several_keys(conn, monkeypatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(tenant_secrets.ENV_KEY, old)
    tenant, _ = create_tenant(conn, "loja")
    secret = get_webhook_secret(conn, tenant.id)
    monkeypatch.setenv(tenant_secrets.ENV_KEY, f"{new},{old}")  # new one first: encrypts; both decrypt
    assert get_webhook_secret(conn, tenant.id) == secret
    rotated = rotate_webhook_secret(conn, "loja")
    monkeypatch.setenv(tenant_secrets.ENV_KEY, new)
    assert get_webhook_secret(conn, tenant.id) == rotated


def test_db_migrate_seals_secrets_left_in_clear(empty_database_url, tmp_path) -> None:
    """Upgrade path: a database at 0018 with plaintext secrets; `db migrate` applies 0019 and seals them."""
    from pipelines.core.common.db import connect

    before = tmp_path / "sql"
    before.mkdir()
    for f in SQL_DIR.iterdir():
        if f.name.endswith(".sql") and f.name < "0019":
            (before / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    migrate(empty_database_url, sql_dir=before)
    with connect(empty_database_url, autocommit=True) as c:
        c.execute(
            "INSERT INTO tenants (slug, nome, webhook_secret) VALUES ('a', 'A', 'segredo-antigo-a'), ('b', 'B', 'segredo-antigo-b')"
        )
    applied = migrate(empty_database_url)
    assert [n for n in applied if n.startswith("0019")]
    with connect(empty_database_url, autocommit=True) as c:
        rows = c.execute(
            "SELECT id, slug, webhook_secret, webhook_secret_cifrado FROM tenants ORDER BY slug"
        ).fetchall()
        assert [r["webhook_secret"] for r in rows] == [None, None]
        assert all(r["webhook_secret_cifrado"] and "segredo" not in r["webhook_secret_cifrado"] for r in rows)
        assert [get_webhook_secret(c, r["id"]) for r in rows] == ["segredo-antigo-a", "segredo-antigo-b"]


def test_a_plaintext_secret_left_behind_is_sealed_on_first_read(conn) -> None:
    tenant, _ = create_tenant(conn, "loja")
    conn.execute("UPDATE tenants SET webhook_secret = 'velho', webhook_secret_cifrado = NULL")
    assert get_webhook_secret(conn, tenant.id) == "velho"
    row = conn.execute("SELECT webhook_secret, webhook_secret_cifrado FROM tenants").fetchone()
    assert row["webhook_secret"] is None and row["webhook_secret_cifrado"]
    assert get_webhook_secret(conn, tenant.id) == "velho"


def test_concurrent_first_use_agrees_on_one_key(_own_key_home) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = _own_key_home / "k" / "secret.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: tenant_secrets._key_file(path), range(16)))
    assert len(keys) == 1 and not [p for p in path.parent.iterdir() if p.name != "secret.key"]


def test_ics_rotate_revokes_feed_urls(conn, cli, make_tenant) -> None:
    t = make_tenant("loja")
    other = make_tenant("outra")
    token = feed_token(conn, t["id"])
    other_token = feed_token(conn, other["id"])
    assert verify_token(conn, token, None).id == t["id"]
    code, out, err = cli("tenant", "ics-rotate", "loja")
    assert code == 0 and "revogados" in out, err
    with pytest.raises(NotFoundError):
        verify_token(conn, token, None)
    new = feed_token(conn, t["id"])
    assert new != token and verify_token(conn, new, None).id == t["id"]
    assert verify_token(conn, other_token, None).id == other["id"]  # other tenants untouched
    assert rotate_feed_tokens(conn, t["id"]) == 2
    with pytest.raises(NotFoundError):
        verify_token(conn, new, None)


def test_feed_tokens_issued_before_versions_keep_working(conn, make_tenant) -> None:
    t = make_tenant("loja")
    secret = get_webhook_secret(conn, t["id"])
    legacy = hmac.new(secret.encode(), f"ics-feed:{t['id']}:".encode(), hashlib.sha256).digest()
    token = f"{t['id'].hex}.{base64.urlsafe_b64encode(legacy).rstrip(b'=').decode()}"
    assert verify_token(conn, token, None).id == t["id"]


def test_api_keys_stay_hashed(conn) -> None:
    _, key = create_tenant(conn, "loja")
    dump = conn.execute("SELECT string_agg(row_to_json(k)::text, '') AS j FROM api_keys k").fetchone()["j"]
    assert key not in dump and key.split("_", 2)[2] not in dump
