"""Retry spacing shared by disparos and reminders (seed 9.1: attempt 2 one second after the first failure,
attempt 3 two seconds after the second, doubling, capped at 30 s). Jitter only ever adds to the seed's
delay (up to +20 %), so no retry comes earlier than the seed says."""

from __future__ import annotations

import random

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
BACKOFF_JITTER = 0.2  # + 0..20 %


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
    jitter: float = BACKOFF_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Delay before the attempt after `attempt` (1-based): base·2^(attempt-1) plus 0..jitter of it, ≤ cap."""
    nominal = min(cap, base * 2 ** max(0, attempt - 1))
    r = (rng or random).random()
    return min(cap, nominal * (1 + jitter * r))
