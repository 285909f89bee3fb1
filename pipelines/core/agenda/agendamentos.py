"""Agendamentos (seed 3.5 / 6): callbacks and meetings with a lead, always scoped to one tenant.

Status machine: ``pendente → realizado | cancelado`` (anything else is a 409). Rescheduling keeps the row
``pendente`` and bumps ``versao``, which is part of every reminder's idempotency key, so reminders of the
old time are never sent. Every change marks the calendar sync ``pendente`` (see pipelines/core/agenda/calendar_sync.py).

The lead is ``agendado`` while it has a pending agendamento; when the last one ends it goes back to the
status it had before (``lead_status_anterior``, ``novo`` when unknown). Leads already ``convertido`` or
``descartado`` keep their status: an agendamento does not undo an outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipelines.core.agenda.lembretes import cancel_reminders, plan_reminders
from pipelines.core.agenda.model import (
    CANAIS,
    STATUSES,
    TIPOS,
    format_local,
    normalize_responsavel,
    parse_datetime,
    slot_minutes,
)
from pipelines.core.common.convert import iso_utc, parse_uuid
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError
from pipelines.core.common.queries import query
from pipelines.core.tenancy.tenants import Tenant

MAX_LEMBRETE_MINUTOS = 7 * 24 * 60
MAX_OBSERVACOES = 2000
MAX_MOTIVO = 500
MAX_LIMIT = 500
# A lead in one of these is moved to 'agendado'; the others keep their status.
_LEAD_MOVABLE = ("novo", "em_disparo")


# --- parsing and validation (shared by api_lite and the CLI) ---------------------------------------


def _check_enum(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{field} inválido: {value!r}; use um de: {', '.join(allowed)}", field=field)
    return value


def _check_lembrete_minutos(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEMBRETE_MINUTOS:
        raise ValidationError(
            f"lembrete_minutos deve ser um inteiro entre 0 e {MAX_LEMBRETE_MINUTOS}; recebido {value!r}",
            field="lembrete_minutos",
        )
    return value


def _check_text(value: Any, field: str, max_len: int, *, required: bool = False) -> str | None:
    text = None if value is None else str(value).strip()
    if not text:
        if required:
            raise ValidationError(f"{field} é obrigatório", field=field)
        return None
    if len(text) > max_len:
        raise ValidationError(f"{field} tem {len(text)} caracteres; o máximo é {max_len}", field=field)
    return text


def _future(dt: datetime, now: datetime, field: str, tz: ZoneInfo) -> datetime:
    if dt <= now:
        raise ValidationError(
            f"{field} deve estar no futuro; recebido {format_local(dt, tz)}, agora {format_local(now, tz)}",
            field=field,
        )
    return dt


def set_slot_minutes(conn: psycopg.Connection, tenant_id: UUID | str, minutes: int | None) -> None:
    if minutes is not None and not 1 <= minutes <= 1440:
        raise ValidationError("slot deve estar entre 1 e 1440 minutos", field="agendamento_slot_minutos")
    with conn.transaction():
        conn.execute("UPDATE tenants SET agendamento_slot_minutos = %s WHERE id = %s", (minutes, tenant_id))


def _db_now(conn: psycopg.Connection) -> datetime:
    return conn.execute("SELECT now() AS n").fetchone()["n"]


# --- reading ----------------------------------------------------------------------------------------


def _doc(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    return {
        "agendamento_id": str(row["agendamento_id"]),
        "lead_id": str(row["lead_id"]),
        "tipo": row["tipo"],
        "canal": row["canal"],
        "status": row["status"],
        "data_agendada": iso_utc(row["data_agendada"]),
        "data_agendada_local": format_local(row["data_agendada"], tz),
        "observacoes": row["observacoes"],
        "responsavel": row["responsavel"],
        "lembrete_minutos": row["lembrete_minutos"],
        "lembrete_lead": row["lembrete_lead"],
        "realizado_em": iso_utc(row["realizado_em"]),
        "cancelado_em": iso_utc(row["cancelado_em"]),
        "motivo_cancelamento": row["motivo_cancelamento"],
        "versao": row["versao"],
        "calendar_event_id": row["calendar_event_id"],
        "calendar_status": row["calendar_status"],
        "calendar_erro": row["calendar_erro"],
        "data_criacao": iso_utc(row["data_criacao"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


def get_agendamento(
    conn: psycopg.Connection, tenant: Tenant, agendamento_id: UUID | str, *, with_lembretes: bool = True
) -> dict[str, Any]:
    """One agendamento with its reminders. Another tenant's id (or a malformed one) is a 404."""
    aid = parse_uuid(agendamento_id, "agendamento")
    params = {"t": tenant.id, "a": aid}
    row = conn.execute(query("agendamentos", "agendamento_get"), params).fetchone()
    if row is None:
        raise NotFoundError(f"agendamento {agendamento_id} não encontrado")
    doc = _doc(row, tenant.tz)
    if with_lembretes:
        rows = conn.execute(query("agendamentos", "agendamento_lembretes"), params).fetchall()
        doc["lembretes"] = [
            {
                **r,
                "data_agendado": iso_utc(r["data_agendado"]),
                "disponivel_em": iso_utc(r["disponivel_em"]),
                "data_envio": iso_utc(r["data_envio"]),
            }
            for r in rows
        ]
    return doc


def list_agendamentos(
    conn: psycopg.Connection,
    tenant: Tenant,
    *,
    de: Any = None,
    ate: Any = None,
    status: str | None = None,
    lead_id: UUID | str | None = None,
    responsavel: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the tenant's agendamentos by data_agendada; `de` inclusive, `ate` exclusive (a bare date
    `ate` covers that whole day in the tenant's time zone)."""
    tz = tenant.tz
    where = ["a.tenant_id = %(t)s"]
    params: dict[str, Any] = {"t": tenant.id, "limit": limit, "offset": offset}
    if de not in (None, ""):
        params["de"] = parse_datetime(de, tz, "de", allow_date=True)
        where.append("a.data_agendada >= %(de)s")
    if ate not in (None, ""):
        params["ate"] = parse_datetime(ate, tz, "ate", allow_date=True, end_of_day=True)
        where.append("a.data_agendada < %(ate)s")
    if status not in (None, ""):
        params["status"] = _check_enum(status, STATUSES, "status")
        where.append("a.status = %(status)s")
    if lead_id not in (None, ""):
        try:
            params["lead"] = parse_uuid(lead_id, "lead")
        except NotFoundError:
            raise ValidationError(
                f"lead_id inválido: {lead_id!r} (esperado um UUID)", field="lead_id"
            ) from None
        where.append("a.lead_id = %(lead)s")
    if responsavel not in (None, ""):
        params["resp"] = normalize_responsavel(responsavel)
        where.append("a.responsavel = %(resp)s")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit deve estar entre 1 e {MAX_LIMIT} (recebido {limit})", field="limit")
    if offset < 0:
        raise ValidationError(f"offset deve ser >= 0 (recebido {offset})", field="offset")
    cond = sql.SQL(" AND ").join(sql.SQL(w) for w in where)
    total = conn.execute(
        sql.SQL(query("agendamentos", "agendamentos_count")).format(where=cond), params
    ).fetchone()["n"]
    rows = conn.execute(
        sql.SQL(query("agendamentos", "agendamentos_page")).format(where=cond), params
    ).fetchall()
    return {"items": [_doc(r, tz) for r in rows], "total": total, "limit": limit, "offset": offset}


# --- writing ----------------------------------------------------------------------------------------


def _lock_responsavel(conn: psycopg.Connection, tenant_id: UUID, responsavel: str) -> None:
    """Serialize bookings of one responsável so two concurrent creates cannot both pass the overlap check."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"agenda:{tenant_id}:{responsavel}",)
    )


def _check_overlap(
    conn: psycopg.Connection,
    tenant_id: UUID,
    responsavel: str | None,
    when: datetime,
    slot: int,
    *,
    exclude: UUID | None = None,
) -> None:
    if not responsavel:
        return
    _lock_responsavel(conn, tenant_id, responsavel)
    row = conn.execute(
        query("agendamentos", "sobreposicao"),
        {"t": tenant_id, "r": responsavel, "x": exclude, "w": when, "s": slot},
    ).fetchone()
    if row:
        raise ConflictError(
            f"{responsavel} já tem o agendamento {row['agendamento_id']} às "
            f"{row['data_agendada']:%Y-%m-%dT%H:%M:%SZ} (intervalo de {slot} min); "
            "escolha outro horário ou envie forcar: true",
            field="data_agendada",
        )


def _outbox(conn: psycopg.Connection, tenant_id: UUID, tipo: str, aid: UUID, payload: dict[str, Any]) -> None:
    conn.execute(
        query("agendamentos", "outbox_insert"),
        {"t": tenant_id, "tipo": f"disparo-agenda.agendamento.{tipo}", "a": aid, "payload": Jsonb(payload)},
    )


def create_agendamento(
    conn: psycopg.Connection,
    tenant: Tenant,
    lead_id: UUID | str,
    *,
    tipo: Any,
    canal: Any,
    data_agendada: Any,
    observacoes: Any = None,
    responsavel: Any = None,
    lembrete_minutos: Any = None,
    lembrete_lead: Any = False,
    forcar: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validate, insert, move the lead to 'agendado', plan the reminders — one transaction."""
    lid = parse_uuid(lead_id, "lead")
    tz = tenant.tz
    tipo = _check_enum(tipo, TIPOS, "tipo")
    canal = _check_enum(canal, CANAIS, "canal")
    when = parse_datetime(data_agendada, tz, "data_agendada")
    obs = _check_text(observacoes, "observacoes", MAX_OBSERVACOES)
    resp = normalize_responsavel(responsavel)
    minutos = _check_lembrete_minutos(lembrete_minutos)
    if not isinstance(lembrete_lead, bool):
        raise ValidationError("lembrete_lead deve ser true ou false", field="lembrete_lead")

    with conn.transaction():
        _future(when, now or _db_now(conn), "data_agendada", tz)
        lead = conn.execute(
            "SELECT status FROM leads WHERE tenant_id = %s AND lead_id = %s FOR UPDATE", (tenant.id, lid)
        ).fetchone()
        if lead is None:
            raise NotFoundError(f"lead {lead_id} não encontrado")
        if not forcar:
            _check_overlap(conn, tenant.id, resp, when, slot_minutes(conn, tenant.id))
        anterior = lead["status"]
        if anterior == "agendado":
            prev = conn.execute(
                query("agendamentos", "lead_status_anterior"), {"t": tenant.id, "l": lid}
            ).fetchone()
            anterior = prev["lead_status_anterior"] if prev else None
        row = conn.execute(
            query("agendamentos", "agendamento_insert"),
            {
                "t": tenant.id, "l": lid, "tipo": tipo, "canal": canal, "w": when, "obs": obs, "resp": resp,
                "m": minutos, "lembrete_lead": lembrete_lead, "anterior": anterior,
            },
        ).fetchone()  # fmt: skip
        conn.execute(
            query("agendamentos", "lead_agendado"), {"movable": list(_LEAD_MOVABLE), "t": tenant.id, "l": lid}
        )
        plan_reminders(conn, tenant.id, [row["agendamento_id"]])
        _outbox(
            conn,
            tenant.id,
            "criado",
            row["agendamento_id"],
            {"lead_id": str(lid), "data_agendada": iso_utc(when)},
        )
    return _doc(row, tz)


def _lock_pending(
    conn: psycopg.Connection, tenant: Tenant, agendamento_id: UUID | str, action: str
) -> dict[str, Any]:
    aid = parse_uuid(agendamento_id, "agendamento")
    row = conn.execute(query("agendamentos", "agendamento_lock"), {"t": tenant.id, "a": aid}).fetchone()
    if row is None:
        raise NotFoundError(f"agendamento {agendamento_id} não encontrado")
    if row["status"] != "pendente":
        raise ConflictError(
            f"o agendamento está {row['status']}; só um agendamento pendente pode ser {action}",
            field="status",
        )
    return row


def _release_lead(conn: psycopg.Connection, tenant_id: UUID, lead_id: UUID, anterior: str | None) -> None:
    """Back to the status before 'agendado' once no pending agendamento is left."""
    conn.execute(
        query("agendamentos", "lead_liberar"),
        {"t": tenant_id, "l": lead_id, "prev": anterior if anterior and anterior != "agendado" else "novo"},
    )


def _close(
    conn: psycopg.Connection, tenant: Tenant, agendamento_id: UUID | str, status: str, motivo: str | None
) -> dict[str, Any]:

    action = "marcado como realizado" if status == "realizado" else "cancelado"
    with conn.transaction():
        cur = _lock_pending(conn, tenant, agendamento_id, action)
        conn.execute(
            "SELECT 1 FROM leads WHERE tenant_id = %s AND lead_id = %s FOR UPDATE",
            (tenant.id, cur["lead_id"]),
        )
        row = conn.execute(
            query(
                "agendamentos", "agendamento_realizado" if status == "realizado" else "agendamento_cancelado"
            ),
            {"t": tenant.id, "a": cur["agendamento_id"], "motivo": motivo},
        ).fetchone()
        cancel_reminders(conn, tenant.id, [cur["agendamento_id"]], f"agendamento {status}")
        _release_lead(conn, tenant.id, cur["lead_id"], row["lead_status_anterior"])
        _outbox(
            conn, tenant.id, status, cur["agendamento_id"], {"lead_id": str(cur["lead_id"]), "motivo": motivo}
        )
    return _doc(row, tenant.tz)


def mark_realizado(conn: psycopg.Connection, tenant: Tenant, agendamento_id: UUID | str) -> dict[str, Any]:
    return _close(conn, tenant, agendamento_id, "realizado", None)


def cancel_agendamento(
    conn: psycopg.Connection, tenant: Tenant, agendamento_id: UUID | str, motivo: Any
) -> dict[str, Any]:
    motivo = _check_text(motivo, "motivo", MAX_MOTIVO, required=True)
    return _close(conn, tenant, agendamento_id, "cancelado", motivo)


def reschedule_agendamento(
    conn: psycopg.Connection,
    tenant: Tenant,
    agendamento_id: UUID | str,
    data_agendada: Any,
    *,
    forcar: bool = False,
    lembrete_minutos: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """New time, versao + 1: reminders of the old versao are cancelled and new ones planned (set-based)."""

    tz = tenant.tz
    when = parse_datetime(data_agendada, tz, "data_agendada")
    minutos = _check_lembrete_minutos(lembrete_minutos)
    with conn.transaction():
        _future(when, now or _db_now(conn), "data_agendada", tz)
        cur = _lock_pending(conn, tenant, agendamento_id, "reagendado")
        if cur["data_agendada"] == when:
            raise ValidationError("data_agendada é igual à atual; nada a reagendar", field="data_agendada")
        if not forcar:
            _check_overlap(
                conn,
                tenant.id,
                cur["responsavel"],
                when,
                slot_minutes(conn, tenant.id),
                exclude=cur["agendamento_id"],
            )
        row = conn.execute(
            query("agendamentos", "agendamento_reagendar"),
            {"w": when, "m": minutos, "t": tenant.id, "a": cur["agendamento_id"]},
        ).fetchone()
        cancel_reminders(conn, tenant.id, [cur["agendamento_id"]], "agendamento reagendado")
        plan_reminders(conn, tenant.id, [cur["agendamento_id"]])
        _outbox(
            conn,
            tenant.id,
            "reagendado",
            cur["agendamento_id"],
            {"de": iso_utc(cur["data_agendada"]), "para": iso_utc(when), "versao": row["versao"]},
        )
    return _doc(row, tz)
