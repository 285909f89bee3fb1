"""The agenda's vocabulary: statuses, labels, how times are read and shown, the double-booking slot.

A leaf module: agendamentos, reminders, the calendar sync and the .ics feed all read it, and it imports
none of them, so the room has no import cycle."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import phonenumbers
import psycopg
from email_validator import EmailNotValidError, validate_email

from pipelines.core.common.errors import ValidationError

TIPOS = ("callback", "reuniao")
CANAIS = ("telefone", "whatsapp", "video")
STATUSES = ("pendente", "realizado", "cancelado")
TIPO_LABEL = {"callback": "Callback", "reuniao": "Reunião"}
CANAL_LABEL = {"telefone": "telefone", "whatsapp": "WhatsApp", "video": "vídeo"}
SLOT_ENV = "AGENDAMENTO_SLOT_MINUTOS"
DEFAULT_SLOT_MINUTES = 30


def parse_datetime(
    value: Any, tz: ZoneInfo, field: str, *, allow_date: bool = False, end_of_day: bool = False
) -> datetime:
    """ISO-8601 to an aware UTC datetime. Without an offset the time is read in the tenant's time zone
    (what a person typing "2026-11-27T14:00" means). A bare date is accepted only for filters."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value or "").strip()
        if not text:
            raise ValidationError(
                f"{field} é obrigatório (ISO-8601, ex.: 2026-11-27T14:00:00-03:00)", field=field
            )
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            if not allow_date:
                raise ValidationError(
                    f"{field} precisa de data e hora (ISO-8601, ex.: {text}T14:00:00-03:00), não só a data",
                    field=field,
                )
            try:
                d = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
                return datetime.combine(d, time(0), tz).astimezone(UTC)
            except (ValueError, OverflowError):
                raise ValidationError(f"{field} inválido: {text!r} (data inexistente)", field=field) from None
        try:
            dt = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValidationError(
                f"{field} inválido: {text!r}; use ISO-8601, ex.: 2026-11-27T14:00:00-03:00", field=field
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            f"{field} fora do intervalo de datas suportado: {value!r}", field=field
        ) from None


def normalize_responsavel(value: Any) -> str | None:
    """Who on the team must act: an e-mail (lower-cased) or a phone (E.164, Brazilian numbers without +55
    accepted). Its form decides the reminder channel: e-mail -> email, phone -> whatsapp."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if "@" in text:
        try:
            return validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise ValidationError(
                f"responsavel: e-mail inválido {text!r} ({exc})", field="responsavel"
            ) from None
    try:
        num = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        num = None
    if num is None or not phonenumbers.is_valid_number(num):
        raise ValidationError(
            f"responsavel deve ser um e-mail ou um telefone (ex.: +5511987654321); recebido {text!r}",
            field="responsavel",
        )
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def format_local(dt: datetime, tz: ZoneInfo) -> str:
    """How times are shown to people: '25/11/2026 14:00 (America/Sao_Paulo)'."""
    return f"{dt.astimezone(tz):%d/%m/%Y %H:%M} ({tz.key})"


def slot_minutes(conn: psycopg.Connection, tenant_id: UUID | str) -> int:
    """Double-booking slot: tenants.agendamento_slot_minutos, else env AGENDAMENTO_SLOT_MINUTOS, else 30."""
    row = conn.execute("SELECT agendamento_slot_minutos FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
    if row and row["agendamento_slot_minutos"]:
        return int(row["agendamento_slot_minutos"])
    env = os.environ.get(SLOT_ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value > 0:
            return value
    return DEFAULT_SLOT_MINUTES
