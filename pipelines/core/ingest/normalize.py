"""Normalization as pure polars expressions (LazyFrame -> LazyFrame): documents, phones and e-mails.

Everything here is vectorized; the only per-element Python is the e-mail fallback for the rare tokens with
non-ASCII characters or Punycode labels, which go through `email-validator` itself so the verdict is exact."""

from __future__ import annotations

import polars as pl
from email_validator import EmailNotValidError, validate_email

from pipelines.core.ingest.reader import RAW_JOIN, RawSheet

# Brazilian area codes (DDD) in service; libphonenumber's BR metadata uses the same set.
DDDS = (
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99"
).split()

_SEP = "\x1f"  # unit separator: never in a cell, safe to split on
PHONE_SPLIT = r"(?i)\s+(?:e|ou)\s+|[/;,|\r\n]"
EMAIL_SPLIT = r"[;,/\s]+"
_ATEXT = r"a-z0-9_!#$%&'*+\-/=?^`{|}~"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
EMAIL_ASCII = rf"^[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@{_LABEL}(?:\.{_LABEL})+$"
SPECIAL_USE = r"(?:^|\.)(?:arpa|invalid|local|localhost|onion|test)$"


# ---------------------------------------------------------------- text columns


def _text(expr: pl.Expr) -> pl.Expr:
    """Trimmed text, empty -> null."""
    s = expr.str.strip_chars()
    return pl.when(s.str.len_chars() > 0).then(s)


def canonical(raw: RawSheet) -> pl.LazyFrame:
    """The mapped sheet as canonical columns: linha, lead_id_externo, nome, contato_nome, documento,
    telefone_raw, email_raw (several phone/e-mail columns concatenated into one raw cell)."""
    cols = raw.columns

    def single(name: str) -> pl.Expr:
        return _text(pl.col(cols[name][0])) if name in cols else pl.lit(None, pl.String)

    def joined(name: str) -> pl.Expr:
        if name not in cols:
            return pl.lit(None, pl.String)
        parts = [_text(pl.col(c)) for c in cols[name]]
        if len(parts) == 1:
            return parts[0]
        return _text(pl.concat_str(parts, separator=RAW_JOIN, ignore_nulls=True))

    return raw.frame.lazy().select(
        "linha",
        single("lead_id_externo").alias("lead_id_externo"),
        single("nome").alias("nome"),
        single("contato_nome").alias("contato_nome"),
        single("documento").alias("documento"),
        joined("telefone").alias("telefone_raw"),
        joined("email").alias("email_raw"),
    )


# ---------------------------------------------------------------- documents (CPF / CNPJ)


def _with_char_values(lf: pl.LazyFrame, col: str, n: int, prefix: str) -> pl.LazyFrame:
    """Columns prefix0..prefix{n-1}: value of each character, ASCII code − 48 (digits 0–9, 'A' = 17 …)."""
    lf = lf.with_columns(
        pl.col(col).str.slice(i, 1).str.to_integer(base=36, strict=False).alias(f"{prefix}{i}")
        for i in range(n)
    )
    return lf.with_columns(
        (pl.col(f"{prefix}{i}") + 7 * (pl.col(f"{prefix}{i}") >= 10).cast(pl.Int64)).alias(f"{prefix}{i}")
        for i in range(n)
    )


def _dv(prefix: str, weights: list[int]) -> pl.Expr:
    total = pl.sum_horizontal([pl.col(f"{prefix}{i}") * w for i, w in enumerate(weights)])
    r = total % 11
    return pl.when(r < 2).then(0).otherwise(11 - r)


def cpf_valid(lf: pl.LazyFrame, col: str, out: str) -> pl.LazyFrame:
    """out = col (11 digits) has both mod-11 check digits right and is not all-equal."""
    lf = _with_char_values(lf, col, 11, "_cpf")
    ok = (
        (_dv("_cpf", list(range(10, 1, -1))) == pl.col("_cpf9"))
        & (_dv("_cpf", list(range(11, 1, -1))) == pl.col("_cpf10"))
        & ~pl.col(col).is_in([str(d) * 11 for d in range(10)])
        & pl.col(col).str.contains(r"^[0-9]{11}$")
    )
    return lf.with_columns(ok.fill_null(False).alias(out)).drop(f"_cpf{i}" for i in range(11))


def cnpj_valid(lf: pl.LazyFrame, col: str, out: str) -> pl.LazyFrame:
    """out = col is a CNPJ, numeric or alphanumeric (12 of [0-9A-Z] + 2 check digits, values ASCII − 48)."""
    lf = _with_char_values(lf, col, 14, "_cnpj")
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    ok = (
        (_dv("_cnpj", w1) == pl.col("_cnpj12"))
        & (_dv("_cnpj", [6, *w1]) == pl.col("_cnpj13"))
        & ~pl.col(col).is_in([str(d) * 14 for d in range(10)])
        & pl.col(col).str.contains(r"^[0-9A-Z]{12}[0-9]{2}$")
    )
    return lf.with_columns(ok.fill_null(False).alias(out)).drop(f"_cnpj{i}" for i in range(14))


def normalize_documento(lf: pl.LazyFrame, col: str = "documento") -> pl.LazyFrame:
    """documento -> normalized value (zero-padded when a CPF/CNPJ) and documento_tipo cpf|cnpj|invalido.
    Digits only: a valid CPF after padding to 11, else a valid CNPJ after padding to 14; 14 characters with
    letters: the alphanumeric CNPJ. The normalized value is kept even when invalid."""
    d = _text(pl.col(col).str.replace_all(r"[.\-/\s]", "").str.to_uppercase())
    lf = lf.with_columns(d.alias("_doc")).with_columns(
        pl.col("_doc").str.contains(r"^[0-9]+$").fill_null(False).alias("_digits"),
        pl.col("_doc").str.len_chars().alias("_n"),
    )
    lf = lf.with_columns(
        pl.when(pl.col("_digits") & (pl.col("_n") <= 11)).then(pl.col("_doc").str.zfill(11)).alias("_c11"),
        pl.when(pl.col("_digits") & (pl.col("_n") <= 14))
        .then(pl.col("_doc").str.zfill(14))
        .when(pl.col("_n") == 14)
        .then(pl.col("_doc"))
        .alias("_c14"),
    )
    lf = cnpj_valid(cpf_valid(lf, "_c11", "_is_cpf"), "_c14", "_is_cnpj")
    is_cpf, is_cnpj = pl.col("_is_cpf"), pl.col("_is_cnpj")
    return lf.with_columns(
        pl.when(is_cpf)
        .then(pl.col("_c11"))
        .when(is_cnpj)
        .then(pl.col("_c14"))
        .otherwise(pl.col("_doc"))
        .alias(col),
        pl.when(pl.col("_doc").is_null())
        .then(None)
        .when(is_cpf)
        .then(pl.lit("cpf"))
        .when(is_cnpj)
        .then(pl.lit("cnpj"))
        .otherwise(pl.lit("invalido"))
        .alias("documento_tipo"),
    ).drop("_doc", "_digits", "_n", "_c11", "_c14", "_is_cpf", "_is_cnpj")


# ---------------------------------------------------------------- phones


def normalize_phones(lf: pl.LazyFrame, col: str = "token") -> pl.LazyFrame:
    """Adds telefone (E.164 or null), tipo_origem (celular|fixo) and nao_geografico for a phone token:
    0800/0300/0500/0900 dropped; 12–13 digits starting 55 lose the country code; a leading 0 with 11–12
    digits loses the trunk 0, with 13–14 digits the 0 plus a 2-digit carrier code; the rest must be 10 or
    11 digits with a valid DDD. 8-digit subscriber 2–5: fixo; 6–9: a mobile written before the ninth
    digit (prefix 9); 9-digit subscriber starting with 9: celular; anything else is not a phone."""
    lf = lf.with_columns(pl.col(col).str.replace_all(r"[^0-9]", "").alias("_d")).with_columns(
        pl.col("_d").str.len_chars().alias("_n"),
        pl.col("_d").str.contains(r"^0[3589]00").fill_null(False).alias("nao_geografico"),
    )
    d, n = pl.col("_d"), pl.col("_n")
    lf = lf.with_columns(
        pl.when(pl.col("nao_geografico"))
        .then(None)
        .when(n.is_between(12, 13) & d.str.starts_with("55"))
        .then(d.str.slice(2))
        .when(n.is_between(11, 12) & d.str.starts_with("0"))
        .then(d.str.slice(1))
        .when(n.is_between(13, 14) & d.str.starts_with("0"))
        .then(d.str.slice(3))
        .otherwise(d)
        .alias("_nat")
    )
    nat = pl.col("_nat")
    lf = lf.with_columns(
        nat.str.len_chars().alias("_nn"),
        nat.str.slice(0, 2).is_in(DDDS).alias("_ddd_ok"),
        nat.str.slice(2, 1).alias("_first"),
    )
    nn, first, ok = pl.col("_nn"), pl.col("_first"), pl.col("_ddd_ok")
    lf = lf.with_columns(
        pl.when(ok & (nn == 10) & first.is_in(["2", "3", "4", "5"]))
        .then(pl.lit("fixo"))
        .when(ok & (nn == 10) & first.is_in(["6", "7", "8", "9"]))
        .then(pl.lit("celular8"))
        .when(ok & (nn == 11) & (first == "9"))
        .then(pl.lit("celular"))
        .alias("_kind")
    )
    kind = pl.col("_kind")
    return lf.with_columns(
        pl.when(kind == "celular8")
        .then(pl.lit("+55") + nat.str.slice(0, 2) + pl.lit("9") + nat.str.slice(2))
        .when(kind.is_not_null())
        .then(pl.lit("+55") + nat)
        .alias("telefone"),
        kind.replace("celular8", "celular").alias("tipo_origem"),
    ).drop("_d", "_n", "_nat", "_nn", "_ddd_ok", "_first", "_kind")


def explode_tokens(lf: pl.LazyFrame, raw_col: str, split_regex: str) -> pl.LazyFrame:
    """(linha, pos, token) for every non-empty token of a raw cell, in cell order."""
    return (
        lf.select("linha", pl.col(raw_col).str.replace_all(split_regex, _SEP).str.split(_SEP).alias("token"))
        .drop_nulls("token")
        .explode("token")
        .with_columns(pl.col("token").str.strip_chars())
        .filter(pl.col("token").str.len_chars() > 0)
        .with_columns(pl.int_range(pl.len()).over("linha").cast(pl.Int32).alias("pos"))
    )


def _dedupe_principal(lf: pl.LazyFrame, value: str) -> pl.LazyFrame:
    """Keep the first occurrence of a value per lead; the first kept one is the principal."""
    return (
        lf.filter(pl.col(value).is_not_null())
        .filter(pl.struct("linha", value).is_first_distinct())
        .with_columns(pl.col("linha").is_first_distinct().alias("principal"))
    )


def phone_tokens(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Every phone token with its verdict: linha, pos, token, telefone (E.164 or null), tipo, nao_geografico."""
    return normalize_phones(explode_tokens(lf, "telefone_raw", PHONE_SPLIT))


def phones(tokens: pl.LazyFrame) -> pl.LazyFrame:
    """linha, telefone, tipo_origem, principal — deduplicated per lead, first valid one principal."""
    return _dedupe_principal(tokens, "telefone").select("linha", "telefone", "tipo_origem", "principal")


# ---------------------------------------------------------------- e-mails


def _email_fallback(token: str) -> str | None:
    """Exact verdict of email-validator for the rare non-ASCII / Punycode token."""
    try:
        result = validate_email(token, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_emails(lf: pl.LazyFrame, col: str = "token") -> pl.LazyFrame:
    """Adds email (lower-cased, without mailto:, when valid) plus _fb/_low for the email-validator fallback.
    ASCII tokens are judged here by the rules email-validator applies (dot-atom local part, hostname labels
    of 1–63 characters, a dot and a final letter in the domain, no special-use domain, no 'ab--' labels,
    254/253-byte limits); tokens with non-ASCII characters or 'xn--' are left to the library itself."""
    lf = lf.with_columns(
        pl.col(col).str.replace(r"(?i)^mailto:", "").str.to_lowercase().alias("_low")
    ).with_columns(pl.col("_low").str.extract(r"@([^@]*)$", 1).alias("_dom"))
    t, domain = pl.col("_low"), pl.col("_dom")
    ascii_ok = (
        t.str.contains(EMAIL_ASCII)
        & t.str.contains(r"[a-z]$")
        & (t.str.len_bytes() <= 254)
        & (domain.str.len_bytes() <= 253)
        & ~domain.str.contains(r"[^.]{64}")
        & ~domain.str.contains(r"(?:^|\.)[^.]{2}--")
        & ~domain.str.contains(SPECIAL_USE)
    )
    fallback = (t.str.contains(r"[^\x00-\x7f]") | t.str.contains("xn--", literal=True)).fill_null(False)
    return (
        lf.with_columns(fallback.alias("_fb"))
        .with_columns(pl.when(ascii_ok.fill_null(False) & ~pl.col("_fb")).then(t).alias("email"))
        .drop("_dom")
    )


def email_tokens(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Every e-mail token with its verdict: linha, pos, token, email (null when invalid), _fb, _low."""
    return normalize_emails(explode_tokens(lf, "email_raw", EMAIL_SPLIT))


def resolve_email_fallback(tokens: pl.DataFrame) -> pl.DataFrame:
    """Run email-validator on the few tokens flagged for fallback (collected frame)."""
    mask = tokens["_fb"]
    if mask.any():
        fixed = tokens.filter(mask).with_columns(
            pl.col("_low")
            .map_elements(_email_fallback, return_dtype=pl.String, skip_nulls=True)
            .alias("email")
        )
        tokens = pl.concat([tokens.filter(~mask), fixed]).sort("linha", "pos")
    return tokens.drop("_fb", "_low")


def emails(tokens: pl.LazyFrame) -> pl.LazyFrame:
    """linha, email, principal — deduplicated per lead, first valid one principal."""
    return _dedupe_principal(tokens, "email").select("linha", "email", "principal")
