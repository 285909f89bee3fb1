"""Tenant webhook secrets, encrypted at rest with the installation's key.

The webhook secret signs MCP delivery receipts (HMAC), so the server needs the secret itself, not a hash:
it is stored as a Fernet token (AES-128-CBC + HMAC-SHA256, from `cryptography`) in
`tenants.webhook_secret_cifrado`. The key comes from `DISPARO_AGENDA_SECRET_KEY` (one Fernet key, or
several separated by commas: the first encrypts, all decrypt, so a key can be rotated); unset, it is
`$DISPARO_AGENDA_HOME/secret.key`, generated with mode 0600 on first use. A database dump without the key
reveals no webhook secret. Losing the key loses the secrets (rotate them: `tenant webhook-secret --rotate`).

Secrets stored in plaintext by older versions (`tenants.webhook_secret`) are sealed by `db migrate`
(`seal_plaintext_secrets`) and, should one remain, on its first read.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from pathlib import Path
from uuid import UUID

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pipelines.core.common.errors import ConfigError, NotFoundError
from pipelines.core.common.settings import Settings

log = logging.getLogger(__name__)

ENV_KEY = "DISPARO_AGENDA_SECRET_KEY"
KEY_FILE_NAME = "secret.key"


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it atomically (0600) when absent; concurrent first uses agree on one key."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # atomic: fails if another process got there first
            log.warning("chave de cifragem dos segredos criada em %s (faça backup dela)", path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


@functools.lru_cache(maxsize=8)
def _fernet(env_value: str | None, key_path: str) -> MultiFernet:
    raw = [k.strip() for k in env_value.split(",") if k.strip()] if env_value else [_key_file(Path(key_path))]
    try:
        keys = [Fernet(k) for k in raw]
    except (ValueError, TypeError):
        source = ENV_KEY if env_value else key_path
        raise ConfigError(
            f"chave de cifragem inválida em {source}: use uma chave Fernet (32 bytes em base64 url-safe; gere com "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from None
    if not keys:
        raise ConfigError(f"{ENV_KEY} está vazia")
    if not env_value:
        mode = Path(key_path).stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("%s tem permissões %o; use chmod 600", key_path, mode)
    return MultiFernet(keys)


def _cipher() -> MultiFernet:
    settings = Settings.from_env()
    env_value = os.environ.get(ENV_KEY) or None
    return _fernet(env_value, str(settings.home / KEY_FILE_NAME))


def seal(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ConfigError(
            f"não foi possível decifrar um segredo de webhook: a chave ({ENV_KEY} ou {KEY_FILE_NAME}) não é a "
            "usada para cifrá-lo; restaure a chave ou troque o segredo com `tenant webhook-secret --rotate`"
        ) from None


def set_new_webhook_secret(conn: psycopg.Connection, tenant_id: UUID) -> str:
    """Generate and store (sealed) a new secret for the tenant; returns it (shown to the operator once)."""
    secret = secrets.token_hex(32)
    cur = conn.execute(
        """UPDATE tenants SET webhook_secret_cifrado = %s, webhook_secret = NULL, updated_at = now()
           WHERE id = %s""",
        (seal(secret), tenant_id),
    )
    if cur.rowcount == 0:
        raise NotFoundError(f"tenant {tenant_id} não encontrado")
    return secret


def get_webhook_secret(conn: psycopg.Connection, tenant_id: UUID | str) -> str | None:
    row = conn.execute(
        "SELECT webhook_secret_cifrado, webhook_secret FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"tenant {tenant_id} não encontrado")
    if row["webhook_secret_cifrado"]:
        return unseal(row["webhook_secret_cifrado"])
    if row["webhook_secret"]:  # left by an older version: seal it now
        conn.execute(
            """UPDATE tenants SET webhook_secret_cifrado = %s, webhook_secret = NULL
               WHERE id = %s AND webhook_secret = %s""",
            (seal(row["webhook_secret"]), tenant_id, row["webhook_secret"]),
        )
        return row["webhook_secret"]
    return None


def seal_plaintext_secrets(conn: psycopg.Connection) -> int:
    """Encrypt every plaintext webhook secret (run by `db migrate`); returns how many were sealed.
    Set-based: one read, one UPDATE from arrays; the key is only needed (or created) when there are any."""
    rows = conn.execute(
        "SELECT id, webhook_secret FROM tenants WHERE webhook_secret IS NOT NULL FOR UPDATE"
    ).fetchall()
    if not rows:
        return 0
    ids = [r["id"] for r in rows]
    plain = [r["webhook_secret"] for r in rows]
    cur = conn.execute(
        """UPDATE tenants t SET webhook_secret_cifrado = s.cifrado, webhook_secret = NULL
           FROM unnest(%s::uuid[], %s::text[]) AS s(id, cifrado)
           WHERE t.id = s.id""",
        (ids, [seal(p) for p in plain]),
    )
    return cur.rowcount
