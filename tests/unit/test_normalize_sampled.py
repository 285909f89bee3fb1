"""Sampled comparison on generated messy sheets: every phone and e-mail token the generator writes gets the
same verdict from our vectorized rules as from libphonenumber / email-validator called one by one."""

from __future__ import annotations

import re

import phonenumbers
import polars as pl
from email_validator import EmailNotValidError, validate_email

from pipelines.core.ingest import normalize as N
from pipelines.core.ingest.reader import RawSheet, map_headers
from pipelines.sample_sheet import frame


def _canonical(rows: int, seed: int) -> pl.LazyFrame:
    df = frame(rows, seed=seed).with_row_index("linha", offset=2).with_columns(pl.col("linha").cast(pl.Int32))
    return N.canonical(RawSheet(df, map_headers(df.columns[1:]), "Leads"))


def _reference_phone(token: str) -> str | None:
    """Issue rules for prefixes, then libphonenumber decides validity (geographic BR numbers only)."""
    d = re.sub(r"\D", "", token)
    if d[:4] in ("0800", "0300", "0500", "0900"):
        return None
    if len(d) in (12, 13) and d.startswith("55"):
        d = d[2:]
    elif d.startswith("0") and len(d) in (11, 12):
        d = d[1:]
    elif d.startswith("0") and len(d) in (13, 14):
        d = d[3:]
    if len(d) == 10 and d[2:3] in ("6", "7", "8", "9"):
        d = d[:2] + "9" + d[2:]
    if len(d) not in (10, 11):
        return None
    num = phonenumbers.parse("+55" + d)
    kind = phonenumbers.number_type(num)
    ok = phonenumbers.is_valid_number(num) and kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
    )
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if ok else None


def test_generated_phone_tokens_agree_with_libphonenumber() -> None:
    tokens = N.phone_tokens(_canonical(3000, seed=11)).collect()
    assert tokens.height > 2000
    expected = [_reference_phone(t) for t in tokens["token"]]
    assert tokens["telefone"].to_list() == expected
    assert tokens["telefone"].null_count() > 100  # the sample does contain invalid ones


def test_generated_email_tokens_agree_with_email_validator() -> None:
    tokens = N.resolve_email_fallback(N.email_tokens(_canonical(3000, seed=12)).collect())
    assert tokens.height > 900

    def ref(t: str) -> str | None:
        t = re.sub(r"(?i)^mailto:", "", t).lower()
        try:
            return validate_email(t, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return None

    assert tokens["email"].to_list() == [ref(t) for t in tokens["token"]]
    assert tokens["email"].null_count() > 20
