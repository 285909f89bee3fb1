"""Per-API-key request rate limit: `DISPARO_AGENDA_RATE_LIMIT` requests per window for each key (default
1200/minute; `0` turns it off), counted in this process with the `limits` library (moving window,
in-memory storage). Over the limit: 429 problem+json with `Retry-After` (seconds).

Only keys that authenticated are counted, so made-up keys cannot fill the storage. With several API
processes behind a proxy each counts its own requests (the limit is per process)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from fastapi import FastAPI
from limits import RateLimitItem, parse, storage, strategies
from starlette.exceptions import HTTPException

from pipelines.core.common.errors import ValidationError
from pipelines.core.common.settings import Settings

_lock = threading.Lock()


class RateLimited(HTTPException):
    def __init__(self, retry_after: int, item: RateLimitItem) -> None:
        super().__init__(
            429,
            f"limite de {item.amount} requisições por {_window(item)} desta chave de API excedido; "
            f"tente de novo em {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _window(item: RateLimitItem) -> str:
    names = {"second": "segundo", "minute": "minuto", "hour": "hora", "day": "dia"}
    unit = names.get(item.GRANULARITY.name, item.GRANULARITY.name)
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


class KeyRateLimiter:
    def __init__(self, spec: str) -> None:
        self.item: RateLimitItem | None = None
        if spec.strip() not in ("0", "off"):
            try:
                self.item = parse(spec)
            except ValueError:
                raise ValidationError(
                    f"DISPARO_AGENDA_RATE_LIMIT inválido: {spec!r} (ex.: 1200/minute, 50/second, 0 desliga)",
                    field="DISPARO_AGENDA_RATE_LIMIT",
                ) from None
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def hit(self, key_id: str) -> None:
        """Count one request of this key, or raise RateLimited."""
        if self.item is None or self.limiter.hit(self.item, key_id):
            return
        reset_at, _ = self.limiter.get_window_stats(self.item, key_id)
        raise RateLimited(max(1, math.ceil(reset_at - time.time())), self.item)


def limiter_for(app: FastAPI) -> KeyRateLimiter:
    """The app's limiter, made on first use from the settings of that moment."""
    limiter: Any = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        with _lock:
            limiter = getattr(app.state, "rate_limiter", None)
            if limiter is None:
                limiter = app.state.rate_limiter = KeyRateLimiter(Settings.from_env().rate_limit)
    return limiter


def key_id(key: str) -> str:
    """The public prefix of a `dak_<prefixo>_<segredo>` key: what the limit is counted by."""
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 else key
