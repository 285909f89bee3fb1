"""E-mail rules of issue 3, and property tests: our verdict equals email-validator's (no deliverability)."""

from __future__ import annotations

import re

import polars as pl
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.ingest import normalize as N


def verdicts(tokens: list[str]) -> list[str | None]:
    lf = pl.LazyFrame({"linha": list(range(len(tokens))), "pos": [0] * len(tokens), "token": tokens})
    df = N.resolve_email_fallback(N.normalize_emails(lf).collect())
    return df.sort("linha")["email"].to_list()


def reference(token: str) -> str | None:
    t = re.sub(r"(?i)^mailto:", "", token).lower()
    try:
        return validate_email(t, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Joao.Silva@Empresa.COM.br", "joao.silva@empresa.com.br"),
        ("mailto:contato@loja.com", "contato@loja.com"),
        ("MAILTO:X@Y.ORG", "x@y.org"),
        ("a+tag@sub.dominio.com.br", "a+tag@sub.dominio.com.br"),
        ("joão@empresa.com.br", "joão@empresa.com.br"),  # internationalized, accepted by email-validator
        ("sem-arroba.com", None),
        ("a@semponto", None),
        ("a@@b.com", None),
        ("a..b@c.com", None),
        (".a@c.com", None),
        ("a@-c.com", None),
        ("a@c-.com", None),
        ("a@c.123", None),  # TLD must end with a letter
        ("a@localhost", None),
        ("a@maquina.local", None),
        ("a@x.test", None),
        ("a@ab--cd.com", None),
        ("x" * 250 + "@c.com", None),
        ('"a b"@c.com', None),
    ],
)
def test_email_rules(raw: str, expected: str | None) -> None:
    assert verdicts([raw]) == [expected]
    assert reference(raw) == expected


def test_split_dedupe_principal() -> None:
    lf = pl.LazyFrame(
        {"linha": [2, 3], "email_raw": ["A@B.com; mailto:a@b.com, c@d.com / x@ e@f.com\tg@h.com", "ruim"]}
    )
    tokens = N.resolve_email_fallback(N.email_tokens(lf).collect())
    assert tokens.height == 7
    assert tokens["email"].is_null().sum() == 2  # "x@" and "ruim"
    emails = N.emails(tokens.lazy()).collect()
    assert emails.rows() == [
        (2, "a@b.com", True),
        (2, "c@d.com", False),
        (2, "e@f.com", False),
        (2, "g@h.com", False),
    ]


_LOCAL = st.text(alphabet="abcXYZ019._-+!#$%&'*=?^`{|}~\"()<>[]:\\ãé", min_size=0, max_size=12)
_LABEL = st.text(alphabet="abcxn019-_ãéß", min_size=0, max_size=10)
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_TLD = st.sampled_from(["com", "com.br", "br", "c0m", "local", "test", "x", "123", "xn--p1ai", ""])


@settings(max_examples=600, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, tld=_TLD, mailto=st.booleans(), at=st.sampled_from(["@", "@", "@@", ""]))
def test_agrees_with_email_validator(local: str, domain: str, tld: str, mailto: bool, at: str) -> None:
    token = ("mailto:" if mailto else "") + local + at + domain + ("." + tld if tld else "")
    assert verdicts([token]) == [reference(token)], token


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters=";,/"),
        max_size=30,
    )
)
def test_agrees_with_email_validator_on_any_text(token: str) -> None:
    token = token.strip()
    if not token:
        return
    assert verdicts([token]) == [reference(token)], token
