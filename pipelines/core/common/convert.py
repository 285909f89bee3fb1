"""Conversions every room needs at its edges: opaque ids in, one timestamp form out."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from pipelines.core.common.errors import NotFoundError


def parse_uuid(value: UUID | str, what: str) -> UUID:
    """A malformed id is "not found" (404), never a database error: ids are opaque to callers."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value).strip())
    except (ValueError, AttributeError, TypeError):
        raise NotFoundError(f"{what} {value!r} não encontrado") from None


def iso_utc(dt: datetime | None) -> str | None:
    """The one timestamp form of every document the product returns: ISO-8601 in UTC with `Z`."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
