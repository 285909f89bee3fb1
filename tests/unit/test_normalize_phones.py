"""Phone rules of issue 3, example by example, and property tests against libphonenumber (BR)."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.ingest import normalize as N


def norm(values: list[str | None]) -> list[tuple[str | None, str | None]]:
    df = N.normalize_phones(pl.LazyFrame({"token": values}, schema={"token": pl.String})).collect()
    return list(zip(df["telefone"], df["tipo_origem"], strict=True))


@pytest.mark.parametrize(
    ("raw", "e164", "tipo"),
    [
        ("(11) 98765-4321", "+5511987654321", "celular"),
        ("11987654321", "+5511987654321", "celular"),
        ("+55 11 98765-4321", "+5511987654321", "celular"),
        ("5511987654321", "+5511987654321", "celular"),  # 13 digits with country code
        ("551133334444", "+551133334444", "fixo"),  # 12 digits with country code
        ("011 98765 4321", "+5511987654321", "celular"),  # trunk 0, 12 digits
        ("01133334444", "+551133334444", "fixo"),  # trunk 0, 11 digits
        ("0 21 11 3333-4444", "+551133334444", "fixo"),  # trunk + carrier, 13 digits
        ("0 15 11 98765-4321", "+5511987654321", "celular"),  # trunk + carrier, 14 digits
        ("(11) 3333-4444", "+551133334444", "fixo"),
        ("(11) 5333-4444", "+551153334444", "fixo"),
        ("(21) 8765-4321", "+5521987654321", "celular"),  # mobile written before the ninth digit
        ("(21) 6765-4321", "+5521967654321", "celular"),
        ("(11) 1333-4444", None, None),  # 8-digit subscriber starting 1
        ("(11) 0333-4444", None, None),
        ("(11) 88765-4321", None, None),  # 9-digit subscriber not starting with 9
        ("(20) 98765-4321", None, None),  # DDD 20 does not exist
        ("(10) 3333-4444", None, None),
        ("0800 123 4567", None, None),
        ("0300 123 4567", None, None),
        ("0500 123 4567", None, None),
        ("0900 123 4567", None, None),
        ("12345", None, None),
        ("não tem", None, None),
        ("119876543210", None, None),  # 12 digits not starting 55 or 0
    ],
)
def test_phone_rules(raw: str, e164: str | None, tipo: str | None) -> None:
    assert norm([raw]) == [(e164, tipo)]


def test_nongeographic_flag_and_invalid_are_distinct() -> None:
    df = N.normalize_phones(pl.LazyFrame({"token": ["0800 123 4567", "123", "11987654321"]})).collect()
    assert df["nao_geografico"].to_list() == [True, False, False]


def test_split_dedupe_principal_across_columns() -> None:
    lf = pl.LazyFrame(
        {
            "linha": [2, 3],
            "telefone_raw": [
                "(11) 98765-4321 / 11 3333-4444; 0800 123 4567 e 11 98765-4321 ou (21) 2222-3333 | x",
                "lixo, 11987654321\n+55 11 98765 4321",
            ],
        }
    )
    tokens = N.phone_tokens(lf).collect()
    assert tokens.height == 9
    phones = N.phones(tokens.lazy()).collect()
    assert phones.rows() == [
        (2, "+5511987654321", "celular", True),
        (2, "+551133334444", "fixo", False),
        (2, "+552122223333", "fixo", False),
        (3, "+5511987654321", "celular", True),  # the first *valid* one is principal
    ]


def test_e_ou_only_between_spaces() -> None:
    lf = pl.LazyFrame({"linha": [2], "telefone_raw": ["11 3333-4444e11 2222-3333"]})
    assert N.phone_tokens(lf).collect().height == 1  # "e" glued to digits is not a separator


def _pn(e164: str) -> tuple[bool, str | None]:
    """libphonenumber's verdict for a *geographic* BR number (fixed line or mobile). Toll-free/premium
    numbers (+55 800…, 0300/0500/0900 services) are valid for it but are not lead phones by the rules."""
    num = phonenumbers.parse(e164, "BR")
    tipo = {
        phonenumbers.PhoneNumberType.MOBILE: "celular",
        phonenumbers.PhoneNumberType.FIXED_LINE: "fixo",
    }.get(phonenumbers.number_type(num))
    return phonenumbers.is_valid_number(num) and tipo is not None, tipo


def _candidate(national: str) -> str:
    """What our rules turn a national number into before asking libphonenumber about it."""
    if len(national) == 10 and national[2] in "6789":
        return "+55" + national[:2] + "9" + national[2:]
    return "+55" + national


_FORMATS = [
    "{n}",
    "({ddd}) {sub}",
    "+55 {ddd} {sub}",
    "55{n}",
    "0{n}",
    "0 31 {ddd} {sub}",
    "{ddd}-{sub}",
]


@settings(max_examples=400, deadline=None)
@given(
    ddd=st.integers(10, 99),
    sub=st.one_of(
        st.integers(0, 10**8 - 1).map(lambda x: f"{x:08d}"),
        st.integers(0, 10**9 - 1).map(lambda x: f"{x:09d}"),
    ),
    fmt=st.sampled_from(_FORMATS),
)
def test_agrees_with_libphonenumber(ddd: int, sub: str, fmt: str) -> None:
    national = f"{ddd}{sub}"
    raw = fmt.format(n=national, ddd=ddd, sub=sub)
    [(ours, tipo)] = norm([raw])
    valid, pn_tipo = _pn(_candidate(national))
    assert (ours is not None) == valid, (raw, ours, valid)
    if ours is not None:
        assert ours == _candidate(national)
        assert tipo == pn_tipo
        assert (
            phonenumbers.format_number(phonenumbers.parse(ours), phonenumbers.PhoneNumberFormat.E164) == ours
        )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789 ()-+./", min_size=0, max_size=20))
def test_any_output_is_valid_e164_for_libphonenumber(raw: str) -> None:
    [(ours, tipo)] = norm([raw])
    if ours is not None:
        valid, pn_tipo = _pn(ours)
        assert valid and tipo == pn_tipo
        assert not "".join(c for c in raw if c.isdigit()).startswith(("0800", "0300", "0500", "0900"))
