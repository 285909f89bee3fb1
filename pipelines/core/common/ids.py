"""Time-ordered ids for rows written in bulk (ingest, campaigns).

UUIDv7 layout (RFC 9562): 48-bit Unix milliseconds, version 7, variant, then bits random per batch and a
per-row counter in the last 8 digits. Ids of one batch sort together and in row order, so primary-key
indexes grow at their right edge instead of touching random leaf pages; and no per-row randomness is
needed (gen_random_uuid() costs ~4 us per call on a server built without OpenSSL, like the embedded one,
which reads /dev/urandom each time)."""

from __future__ import annotations

import os
import time

import polars as pl

COUNTER_DIGITS = 8
MAX_BATCH = 10**COUNTER_DIGITS  # rows per prefix; the counter would overflow the last group beyond it
_VARIANT = {f"{i:x}": "89ab"[i & 3] for i in range(16)}


def uuid7_prefix() -> str:
    """The first 28 characters of a batch's ids ("tttttttt-tttt-7rrr-vrrr-rrrr"); append the row counter
    zero-padded to COUNTER_DIGITS."""
    r = os.urandom(6).hex()
    ms = f"{int(time.time() * 1000):012x}"
    return f"{ms[:8]}-{ms[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:11]}"


def uuid7_series(n: int) -> pl.Series:
    """n distinct ids as text, built vectorized."""
    if n > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} ids per batch")
    return pl.select(
        (
            pl.lit(uuid7_prefix()) + pl.int_range(n, dtype=pl.Int64).cast(pl.String).str.zfill(COUNTER_DIGITS)
        ).alias("id")
    ).to_series()


def uuid7_sql(prefix_param: str, counter_sql: str) -> str:
    """SQL for the id of a row from a bound prefix (`uuid7_prefix()`) and a 0-based per-row counter."""
    return f"({prefix_param} || lpad(({counter_sql})::text, {COUNTER_DIGITS}, '0'))::uuid"
