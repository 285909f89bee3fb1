"""Tenants and their API keys. Keys are shown once and stored only as sha256 hashes; webhook secrets are
stored encrypted (pipelines.core.tenancy.secrets)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipelines.core.common.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    ValidationError,
    reject_unknown_fields,
)
from pipelines.core.common.queries import query
from pipelines.core.tenancy import secrets as tenant_secrets

KEY_PREFIX = "dak"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sab", "dom")


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    nome: str
    timezone: str = "America/Sao_Paulo"
    janela_envio: dict[str, list[list[str]]] | None = None
    rate_limit_whatsapp: float = 80.0
    rate_limit_email: float = 50.0
    lembrete_minutos_padrao: int = 30
    equipe_canal: str | None = None
    equipe_destino: str | None = None
    webhook_url: str | None = None  # where its outbox events are delivered (None: kept, not delivered)
    retencao_dias: int = 90  # stored sheets, ingest rejects and delivered events are kept this long
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Tenant:
        return cls(
            id=row["id"],
            slug=row["slug"],
            nome=row["nome"],
            timezone=row["timezone"],
            janela_envio=row["janela_envio"],
            rate_limit_whatsapp=float(row["rate_limit_whatsapp"]),
            rate_limit_email=float(row["rate_limit_email"]),
            lembrete_minutos_padrao=row["lembrete_minutos_padrao"],
            equipe_canal=row["equipe_canal"],
            equipe_destino=row["equipe_destino"],
            webhook_url=row.get("webhook_url"),
            retencao_dias=row.get("retencao_dias") or 90,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": str(self.id),
            "slug": self.slug,
            "nome": self.nome,
            "timezone": self.timezone,
            "janela_envio": self.janela_envio,
            "rate_limit_whatsapp": self.rate_limit_whatsapp,
            "rate_limit_email": self.rate_limit_email,
            "lembrete_minutos_padrao": self.lembrete_minutos_padrao,
            "equipe_canal": self.equipe_canal,
            "equipe_destino": self.equipe_destino,
            "webhook_url": self.webhook_url,
            "retencao_dias": self.retencao_dias,
        }


_TENANT_COLUMNS = (
    "id, slug, nome, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email, "
    "lembrete_minutos_padrao, equipe_canal, equipe_destino, webhook_url, retencao_dias"
)


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def validate_slug(slug: str) -> str:
    if not _SLUG.match(slug or ""):
        raise ValidationError(
            f"slug inválido {slug!r}: use letras minúsculas, dígitos, '-' ou '_' (até 63)", field="slug"
        )
    return slug


def validate_janela(janela: Any) -> dict[str, list[list[str]]] | None:
    """A send window: {"seg": [["08:00","20:00"]], ...}; missing days have no window (closed)."""
    if janela is None:
        return None
    if not isinstance(janela, dict) or not set(janela) <= set(WEEKDAYS):
        raise ValidationError(f"janela_envio deve ter as chaves {', '.join(WEEKDAYS)}", field="janela_envio")
    hhmm = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
    for dia, faixas in janela.items():
        for faixa in faixas:
            if len(faixa) != 2 or not all(hhmm.match(x) for x in faixa) or faixa[0] >= faixa[1]:
                raise ValidationError(
                    f"janela_envio[{dia}]: faixa inválida {faixa!r}, use ['HH:MM', 'HH:MM'] com início < fim",
                    field="janela_envio",
                )
    return janela


def validate_webhook_url(url: str | None) -> str | None:
    """An http(s) URL for the tenant's events; empty or None removes it."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValidationError(
            f"webhook_url inválida: {url!r}; use uma URL http:// ou https:// completa", field="webhook_url"
        )
    return url


def create_tenant(
    conn: psycopg.Connection, slug: str, nome: str | None = None, *, timezone: str = "America/Sao_Paulo"
) -> tuple[Tenant, str]:
    """Create a tenant and its first API key; returns (tenant, key). The key is not recoverable."""
    validate_slug(slug)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"fuso horário desconhecido: {timezone!r}", field="timezone") from exc
    with conn.transaction():
        try:
            row = conn.execute(
                f"INSERT INTO tenants (slug, nome, timezone) VALUES (%s, %s, %s) RETURNING {_TENANT_COLUMNS}",
                (slug, nome or slug, timezone),
            ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(f"o tenant {slug!r} já existe", field="slug") from exc
        tenant = Tenant.from_row(row)
        tenant_secrets.set_new_webhook_secret(conn, tenant.id)
        key = _insert_key(conn, tenant.id, "inicial")
    return tenant, key


def _insert_key(conn: psycopg.Connection, tenant_id: UUID, nome: str | None) -> str:
    prefix, key = _new_key()
    conn.execute(
        query("tenancy", "api_key_insert"),
        {"t": tenant_id, "prefixo": prefix, "hash": _hash_key(key), "nome": nome},
    )
    return key


def create_api_key(conn: psycopg.Connection, slug: str, nome: str | None = None) -> str:
    tenant = get_tenant_by_slug(conn, slug)
    with conn.transaction():
        return _insert_key(conn, tenant.id, nome)


def key_prefix_of(given: str) -> str:
    """The public prefix in any form a user has at hand: `dak_<prefixo>_…` (as `key-list` prints it),
    `dak_<prefixo>` (as the docs show it), the bare prefix, or the whole key."""
    text = given.strip().rstrip("….")  # a copy that kept (part of) the ellipsis
    if text.startswith(f"{KEY_PREFIX}_"):
        text = text[len(KEY_PREFIX) + 1 :]
    return text.split("_", 1)[0]


def revoke_api_key(conn: psycopg.Connection, slug: str, prefixo: str) -> None:
    """Revoke by the key's public prefix (see `key_prefix_of` for the accepted forms)."""
    tenant = get_tenant_by_slug(conn, slug)
    prefixo = key_prefix_of(prefixo)
    with conn.transaction():
        cur = conn.execute(query("tenancy", "api_key_revoke"), {"t": tenant.id, "prefixo": prefixo})
        if cur.rowcount == 0:
            raise NotFoundError(f"chave {prefixo!r} não encontrada (ou já revogada) no tenant {slug!r}")


def list_api_keys(conn: psycopg.Connection, slug: str) -> list[dict[str, Any]]:
    tenant = get_tenant_by_slug(conn, slug)
    return conn.execute(query("tenancy", "api_keys_list"), {"t": tenant.id}).fetchall()


def list_tenants(conn: psycopg.Connection) -> list[Tenant]:
    rows = conn.execute(query("tenancy", "tenants_ativos")).fetchall()
    return [Tenant.from_row(r) for r in rows]


def get_tenant_by_slug(conn: psycopg.Connection, slug: str) -> Tenant:
    row = conn.execute(query("tenancy", "tenant_by_slug"), {"slug": slug}).fetchone()
    if row is None:
        raise NotFoundError(f"tenant desconhecido: {slug!r} (crie com `disparo-agenda tenant create {slug}`)")
    return Tenant.from_row(row)


def get_tenant(conn: psycopg.Connection, tenant_id: UUID | str) -> Tenant:
    row = conn.execute(query("tenancy", "tenant_by_id"), {"id": tenant_id}).fetchone()
    if row is None:
        raise NotFoundError(f"tenant {tenant_id} não encontrado")
    return Tenant.from_row(row)


def rotate_webhook_secret(conn: psycopg.Connection, slug: str) -> str:
    """New HMAC secret for MCP delivery receipts (and the iCalendar feed tokens derived from it)."""
    tenant = get_tenant_by_slug(conn, slug)
    with conn.transaction():
        return tenant_secrets.set_new_webhook_secret(conn, tenant.id)


def get_webhook_secret(conn: psycopg.Connection, tenant_id: UUID | str) -> str | None:
    """The tenant's webhook secret in clear (decrypted); None if it has none."""
    return tenant_secrets.get_webhook_secret(conn, tenant_id)


_SETTABLE = {
    "nome", "timezone", "janela_envio", "rate_limit_whatsapp", "rate_limit_email",
    "lembrete_minutos_padrao", "equipe_canal", "equipe_destino", "agendamento_slot_minutos",
    "webhook_url", "retencao_dias",
}  # fmt: skip


def update_tenant(conn: psycopg.Connection, slug: str, **changes: Any) -> Tenant:
    """Change tenant settings (time zone, send window, rate limits, team channel)."""
    tenant = get_tenant_by_slug(conn, slug)
    reject_unknown_fields(changes, _SETTABLE)
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                f"fuso horário desconhecido: {changes['timezone']!r}", field="timezone"
            ) from exc
    if "janela_envio" in changes:
        changes["janela_envio"] = Jsonb(validate_janela(changes["janela_envio"]))
    if "webhook_url" in changes:
        changes["webhook_url"] = validate_webhook_url(changes["webhook_url"])
    if "retencao_dias" in changes and not 1 <= int(changes["retencao_dias"]) <= 3650:
        raise ValidationError("retencao_dias deve estar entre 1 e 3650", field="retencao_dias")
    if not changes:
        return tenant
    sets = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
    )
    with conn.transaction():
        try:
            row = conn.execute(
                sql.SQL(query("tenancy", "tenant_update")).format(sets=sets), {**changes, "id": tenant.id}
            ).fetchone()
        except psycopg.errors.CheckViolation as exc:
            raise ValidationError(f"valor inválido: {str(exc).splitlines()[0]}") from exc
    return Tenant.from_row(row)


def authenticate(conn: psycopg.Connection, key: str | None) -> Tenant:
    """Find the tenant of an API key; constant-time hash comparison; revoked keys fail."""
    parts = (key or "").split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise AuthError("chave de API ausente ou malformada (use 'Authorization: Bearer dak_...')")
    row = conn.execute(query("tenancy", "api_key_tenant"), {"prefixo": parts[1]}).fetchone()
    expected = row["hash"] if row else _hash_key("absent")
    valid = hmac.compare_digest(expected, _hash_key(key or ""))
    if row is None or not valid or row["revogada_em"] is not None:
        raise AuthError("chave de API inválida ou revogada")
    return Tenant.from_row(row)
