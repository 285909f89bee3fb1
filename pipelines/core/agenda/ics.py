"""iCalendar feed of a tenant's agendamentos (optionally one responsável's), for calendar apps to subscribe.

Calendar apps keep the feed URL in plain sight (settings screens, sync logs), so the URL never carries the
API key. It carries a feed token instead: ``<tenant_id hex>.<HMAC-SHA256(tenant webhook secret,
"ics-feed:<tenant_id>:<responsavel>[:<versao>]")>`` (base64url), where versao is `tenants.ics_feed_versao`
(0 omits it: tokens from before the column existed stay valid). The token only reads this one feed; a
wrong token is a 404. `rotate_feed_tokens` (`tenant ics-rotate`) revokes every feed URL of the tenant;
rotating its webhook secret does too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import psycopg
from icalendar import Calendar, Event

from pipelines.core.agenda.model import (
    CANAL_LABEL,
    TIPO_LABEL,
    format_local,
    normalize_responsavel,
    slot_minutes,
)
from pipelines.core.common.errors import NotFoundError, ValidationError
from pipelines.core.tenancy.tenants import Tenant, get_tenant, get_webhook_secret

PAST_DAYS = 90  # the feed shows agendamentos from this many days ago on
MAX_EVENTS = 5000
PRODID = "-//agente-disparo-agenda//agendamentos//PT-BR"


def _sign(secret: str, tenant_id: UUID, responsavel: str | None, versao: int) -> str:
    msg = f"ics-feed:{tenant_id}:{responsavel or ''}" + (f":{versao}" if versao else "")
    digest = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _feed_key(conn: psycopg.Connection, tenant_id: UUID) -> tuple[str, int] | None:
    """(webhook secret, feed token version) of an active tenant; None if it has no secret or is inactive."""
    row = conn.execute("SELECT ics_feed_versao, ativo FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
    if row is None or not row["ativo"]:
        return None
    secret = get_webhook_secret(conn, tenant_id)
    return (secret, row["ics_feed_versao"]) if secret else None


def feed_token(conn: psycopg.Connection, tenant_id: UUID, responsavel: str | None = None) -> str:
    key = _feed_key(conn, tenant_id)
    if key is None:
        raise NotFoundError("o tenant não tem webhook_secret; não é possível gerar o feed")
    return f"{tenant_id.hex}.{_sign(key[0], tenant_id, responsavel, key[1])}"


def rotate_feed_tokens(conn: psycopg.Connection, tenant_id: UUID) -> int:
    """Revoke every .ics feed URL of the tenant (new ones come from `feed_url`); returns the new version."""
    row = conn.execute(
        """UPDATE tenants SET ics_feed_versao = ics_feed_versao + 1, updated_at = now()
           WHERE id = %s RETURNING ics_feed_versao""",
        (tenant_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"tenant {tenant_id} não encontrado")
    return row["ics_feed_versao"]


def feed_url(
    conn: psycopg.Connection, tenant: Tenant, base_url: str, responsavel: str | None = None
) -> dict[str, Any]:
    resp = normalize_responsavel(responsavel)
    params = {"token": feed_token(conn, tenant.id, resp)}
    if resp:
        params["responsavel"] = resp
    return {"url": f"{base_url.rstrip('/')}/agendamentos.ics?{urlencode(params)}", "responsavel": resp}


def verify_token(conn: psycopg.Connection, token: str | None, responsavel: str | None) -> Tenant:
    """The tenant of a valid feed token; anything else (malformed, wrong, other responsável) is a 404."""
    not_found = NotFoundError("feed não encontrado")
    tenant_hex, _, sig = (token or "").partition(".")
    try:
        tenant_id = UUID(hex=tenant_hex)
    except ValueError:
        raise not_found from None
    try:
        resp = normalize_responsavel(responsavel)
    except ValidationError:
        raise not_found from None
    key = _feed_key(conn, tenant_id)
    if key is None or not hmac.compare_digest(_sign(key[0], tenant_id, resp, key[1]), sig):
        raise not_found
    return get_tenant(conn, tenant_id)


def build_feed(
    conn: psycopg.Connection, tenant: Tenant, responsavel: str | None = None, *, now: datetime | None = None
) -> bytes:
    """VCALENDAR with one VEVENT per agendamento (UID stable, SEQUENCE = versao, times in UTC)."""
    resp = normalize_responsavel(responsavel)
    now = now or datetime.now(UTC)
    slot = timedelta(minutes=slot_minutes(conn, tenant.id))
    params: dict[str, Any] = {
        "t": tenant.id,
        "desde": now - timedelta(days=PAST_DAYS),
        "n": MAX_EVENTS,
        "r": resp,
    }
    rows = conn.execute(
        f"""SELECT a.agendamento_id, a.tipo, a.canal, a.status, a.data_agendada, a.observacoes, a.responsavel,
                   a.versao, a.data_criacao, a.updated_at, a.motivo_cancelamento, ld.nome AS lead_nome
            FROM agendamentos a JOIN leads ld ON ld.tenant_id = a.tenant_id AND ld.lead_id = a.lead_id
            WHERE a.tenant_id = %(t)s AND a.data_agendada >= %(desde)s
                  {"AND a.responsavel = %(r)s" if resp else ""}
            ORDER BY a.data_agendada LIMIT %(n)s""",
        params,
    ).fetchall()
    tz = tenant.tz
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Agendamentos {tenant.nome}" + (f" ({resp})" if resp else ""))
    cal.add("x-wr-timezone", tenant.timezone)
    for r in rows:
        ev = Event()
        ev.add("uid", f"{r['agendamento_id']}@agente-disparo-agenda")
        ev.add("dtstamp", now.astimezone(UTC))
        ev.add("dtstart", r["data_agendada"].astimezone(UTC))
        ev.add("dtend", (r["data_agendada"] + slot).astimezone(UTC))
        ev.add("sequence", r["versao"])
        ev.add("created", r["data_criacao"].astimezone(UTC))
        ev.add("last-modified", r["updated_at"].astimezone(UTC))
        ev.add("summary", f"{TIPO_LABEL[r['tipo']]}: {r['lead_nome']}")
        lines = [
            f"{TIPO_LABEL[r['tipo']]} por {CANAL_LABEL[r['canal']]} em {format_local(r['data_agendada'], tz)}."
        ]
        if r["responsavel"]:
            lines.append(f"Responsável: {r['responsavel']}")
        if r["observacoes"]:
            lines.append(f"Observações: {r['observacoes']}")
        if r["status"] == "realizado":
            lines.append("Realizado.")
        if r["status"] == "cancelado":
            lines.append(f"Cancelado: {r['motivo_cancelamento']}")
        ev.add("description", "\n".join(lines))
        ev.add("location", CANAL_LABEL[r["canal"]])
        ev.add("status", "CANCELLED" if r["status"] == "cancelado" else "CONFIRMED")
        ev.add("x-disparo-agenda-status", r["status"])
        cal.add_component(ev)
    return cal.to_ical()
