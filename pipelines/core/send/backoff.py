"""Retry spacing shared by disparos and reminders (seed 9.1: 1 s, doubling, capped at 30 s)."""

from __future__ import annotations

import random

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
BACKOFF_JITTER = 0.2  # ± 20 %


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
    jitter: float = BACKOFF_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Delay before the attempt after `attempt` (1-based): base·2^(attempt-1), capped, ± jitter, ≤ cap."""
    nominal = min(cap, base * 2 ** max(0, attempt - 1))
    r = (rng or random).random()
    return min(cap, max(0.0, nominal * (1 - jitter + 2 * jitter * r)))
