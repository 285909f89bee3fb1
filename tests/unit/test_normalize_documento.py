"""CPF/CNPJ rules: zero padding of numeric cells, check digits (numeric and alphanumeric CNPJ), tipo."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.ingest import normalize as N


def norm(values: list[str | None]) -> list[tuple[str | None, str | None]]:
    df = N.normalize_documento(pl.LazyFrame({"documento": values}, schema={"documento": pl.String})).collect()
    return list(zip(df["documento"], df["documento_tipo"], strict=True))


def _dv(values: list[int], weights: list[int]) -> int:
    r = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if r < 2 else 11 - r


def ref_cpf(base9: str) -> str:
    v = [int(c) for c in base9]
    d1 = _dv(v, list(range(10, 1, -1)))
    d2 = _dv([*v, d1], list(range(11, 1, -1)))
    return f"{base9}{d1}{d2}"


def ref_cnpj(base12: str) -> str:
    """Reference implementation from the Receita Federal spec: value = ASCII code − 48."""
    v = [ord(c) - 48 for c in base12]
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    d1 = _dv(v, w1)
    d2 = _dv([*v, d1], [6, *w1])
    return f"{base12}{d1}{d2}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.456.789-09", ("12345678909", "cpf")),
        ("123 456 789 09", ("12345678909", "cpf")),
        ("191", ("00000000191", "cpf")),  # a CPF stored as a number loses its zeros
        ("11.222.333/0001-81", ("11222333000181", "cnpj")),
        ("11222333000181", ("11222333000181", "cnpj")),
        ("1222333000128", ("01222333000128", "cnpj")),  # 13 digits: CNPJ with a lost zero
        ("12.ABC.345/01DE-35", ("12ABC34501DE35", "cnpj")),  # alphanumeric CNPJ (Receita's example)
        ("12abc34501de35", ("12ABC34501DE35", "cnpj")),
        ("12ABC34501DE36", ("12ABC34501DE36", "invalido")),
        ("123.456.789-00", ("12345678900", "invalido")),
        ("000.000.000-00", ("00000000000", "invalido")),  # all-equal digits
        ("111.111.111-11", ("11111111111", "invalido")),
        ("11.111.111/1111-11", ("11111111111111", "invalido")),
        ("0", ("0", "invalido")),
        ("123456789012345", ("123456789012345", "invalido")),
        ("CPF 123", ("CPF123", "invalido")),
        ("  ", (None, None)),
        (None, (None, None)),
    ],
)
def test_documento_rules(raw: str | None, expected: tuple[str | None, str | None]) -> None:
    assert norm([raw]) == [expected]


def test_reference_matches_known_examples() -> None:
    assert ref_cpf("123456789") == "12345678909"
    assert ref_cnpj("112223330001") == "11222333000181"
    assert ref_cnpj("12ABC34501DE") == "12ABC34501DE35"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10**9 - 1), min_size=1, max_size=60))
def test_cpf_property(ns: list[int]) -> None:
    """Valid CPFs (as numbers without their zeros, or formatted) are CPFs; a wrong check digit never is."""
    cpfs = [ref_cpf(f"{n:09d}") for n in ns]
    got = norm([c.lstrip("0") or "0" for c in cpfs])
    for cpf, (doc, tipo) in zip(cpfs, got, strict=True):
        assert (doc, tipo) == ((cpf, "cpf") if len(set(cpf)) > 1 else (doc, "invalido"))
    formatted = norm([f"{c[:3]}.{c[3:6]}.{c[6:9]}-{c[9:]}" for c in cpfs])
    assert [d for d, _ in formatted] == cpfs
    bad = [c[:10] + str((int(c[10]) + 1) % 10) for c in cpfs]
    assert all(tipo != "cpf" for _, tipo in norm(bad))


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet=_ALNUM, min_size=12, max_size=12), st.integers(0, 99)),
        min_size=1,
        max_size=60,
    )
)
def test_cnpj_property_alphanumeric(cases: list[tuple[str, int]]) -> None:
    cases = [(b, w) for b, w in cases if len(set(ref_cnpj(b))) > 1 and not b.isdigit()]
    cnpjs = [ref_cnpj(b) for b, _ in cases]
    assert norm(cnpjs) == [(c, "cnpj") for c in cnpjs]
    assert norm([c.lower() for c in cnpjs]) == [(c, "cnpj") for c in cnpjs]
    formatted = [f"{c[:2]}.{c[2:5]}.{c[5:8]}/{c[8:12]}-{c[12:]}" for c in cnpjs]
    assert norm(formatted) == [(c, "cnpj") for c in cnpjs]
    wrong = [(c[:12] + f"{w:02d}") for c, (_, w) in zip(cnpjs, cases, strict=True) if f"{w:02d}" != c[12:]]
    assert all(tipo == "invalido" for _, tipo in norm(wrong))  # letters: no other reading can save it


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10**12 - 1), min_size=1, max_size=60))
def test_numeric_cnpj_property(ns: list[int]) -> None:
    cnpjs = [c for c in (ref_cnpj(f"{n:012d}") for n in ns) if len(set(c)) > 1]
    got = norm([c.lstrip("0") or "0" for c in cnpjs])
    for cnpj, (doc, tipo) in zip(cnpjs, got, strict=True):
        # A short number may also be a valid CPF (CPF wins, as the rules say); otherwise it is this CNPJ.
        assert (doc, tipo) == (cnpj, "cnpj") or (tipo == "cpf" and len(cnpj.lstrip("0")) <= 11)
