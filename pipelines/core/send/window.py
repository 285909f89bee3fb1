"""Tenant send windows (`tenants.janela_envio`): when a disparo may go out, in the tenant's time zone.

Shape: ``{"seg": [["08:00", "20:00"]], ..., "sab": [["08:00", "14:00"]]}``; a missing or empty day is
closed; ``None`` means always open. Ranges are [start, end) in local wall-clock time. Pure functions with an
explicit ``now`` so callers (and tests) decide the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sab", "dom")  # Monday first, as date.weekday()


def _hhmm(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def next_opening(janela: dict[str, Any] | None, tz: ZoneInfo | str, now: datetime) -> datetime | None:
    """`now` when the window is open at `now`; else the next opening (UTC); None when it never opens."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if janela is None:
        return now
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        ranges = sorted(janela.get(WEEKDAYS[day.weekday()]) or [])
        for start, end in ranges:
            opens = datetime.combine(day, _hhmm(start), tzinfo=zone)
            closes = datetime.combine(day, _hhmm(end), tzinfo=zone)
            if opens <= local < closes:
                return now
            if opens > local:
                return opens.astimezone(UTC)
    return None


def is_open(janela: dict[str, Any] | None, tz: ZoneInfo | str, now: datetime) -> bool:
    return next_opening(janela, tz, now) == now
