"""Sample-sheet generator: realistic, messy lead sheets of any size (used by the demo, tests and benchmark).

    .venv/bin/python -m bench.gen_leads OUT.xlsx --rows 164809 [--seed 0] [--csv]

What people type: several phone columns (Telefone, Celular, WhatsApp) and cells with several numbers
separated by / ; , | "e" "ou"; 0800s; mobiles without the ninth digit; +55; trunk 0 and carrier codes;
CPF/CNPJ stored as numbers (leading zeros lost), formatted, alphanumeric CNPJs, invalid ones; e-mails with
mailto:, upper case, two per cell, broken ones; blank rows, duplicate ids, missing names.

Randomness is a per-row hash (polars), so 1M rows are generated vectorized; the .xlsx is written as
SpreadsheetML directly (inline strings, streamed into the zip in chunks), far faster than a cell-by-cell
writer. With the default seed, 164,809 rows give about the seed's 107k phones and 57k e-mails."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import polars as pl

HEADERS = [
    "ID", "Razão Social", "Contato", "CPF/CNPJ", "Telefone", "Celular", "WhatsApp", "E-mail", "E-mail 2", "Cidade",
]  # fmt: skip
_NUMERIC = {"ID", "CPF/CNPJ", "Telefone", "Celular"}  # may hold numeric cells (written as numbers)

_W1 = ["Comercial", "Distribuidora", "Padaria", "Auto Peças", "Construtora", "Farmácia", "Mercado", "Clínica",
       "Escritório", "Transportes", "Café", "Ótica", "Açougue", "Papelaria", "Imobiliária", "Academia"]  # fmt: skip
_W2 = ["São João", "Boa Vista", "Paraná", "Três Irmãos", "Alvorada", "Conceição", "Bela Vista", "Ipê",
       "Horizonte", "Aurora", "Estrela", "Capixaba", "Gaúcha", "Nordeste", "Cerrado", "Itaú"]  # fmt: skip
_W3 = ["Ltda", "ME", "EIRELI", "S.A.", "Ltda.", "", "& Cia", "MEI"]
_FIRST = ["João", "Maria", "José", "Ana", "Luíz", "Fernanda", "Márcio", "Patrícia", "Antônio", "Luciana",
          "Carlos", "Júlia", "Paulo", "Beatriz", "Sérgio", "Cláudia"]  # fmt: skip
_LAST = ["Silva", "Souza", "Oliveira", "Santos", "Conceição", "Araújo", "Gonçalves", "Lima"]
_CITIES = ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Salvador", "Recife",
           "Goiânia", "Belém", "Manaus", "Florianópolis", "Vitória"]  # fmt: skip
_DOMAINS = ["gmail.com", "hotmail.com", "yahoo.com.br", "uol.com.br", "outlook.com", "terra.com.br",
            "bol.com.br", "empresa.com.br", "globo.com", "ig.com.br"]  # fmt: skip
_DDDS = [
    "11",
    "11",
    "11",
    "21",
    "21",
    "31",
    "41",
    "51",
    "61",
    "71",
    "81",
    "19",
    "27",
    "48",
    "62",
    "85",
    "92",
    "15",
]


def _rand(seed: int, k: int) -> pl.Expr:
    """A deterministic pseudo-random u64 per row for stream k."""
    return pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed * 7919 + k)


def _pick(values: list[str], seed: int, k: int) -> pl.Expr:
    idx = (_rand(seed, k) % len(values)).cast(pl.Int64)
    return pl.lit(pl.Series(values)).gather(idx)


def _pct(seed: int, k: int) -> pl.Expr:
    """Uniform in [0, 10000)."""
    return (_rand(seed, k) % 10_000).cast(pl.Int64)


def _digits(seed: int, k: int, n: int) -> pl.Expr:
    return (_rand(seed, k) % (10**n)).cast(pl.String).str.zfill(n)


def _phone(seed: int, k: int) -> pl.Expr:
    """One phone as people write it (about 82% of them normalize to a valid number)."""
    ddd = _pick(_DDDS, seed, k)
    sub8 = _digits(seed, k + 1, 7)
    mob = pl.lit("9") + (_rand(seed, k + 2) % 4 + 6).cast(pl.String) + sub8  # 9 + [6-9] + 7 digits
    land = (_rand(seed, k + 3) % 4 + 2).cast(pl.String) + sub8  # [2-5] + 7 digits
    fmt = _pct(seed, k + 4)
    return (
        pl.when(fmt < 2500)
        .then(pl.format("({}) {}-{}", ddd, mob.str.slice(0, 5), mob.str.slice(5)))
        .when(fmt < 4000)
        .then(ddd + mob)  # plain digits (numeric cell in xlsx)
        .when(fmt < 4800)
        .then(pl.format("+55 {} {}-{}", ddd, mob.str.slice(0, 5), mob.str.slice(5)))
        .when(fmt < 5400)
        .then(pl.format("0{} {} {}", ddd, mob.str.slice(0, 5), mob.str.slice(5)))
        .when(fmt < 5900)
        .then(pl.format("0 21 {} {}-{}", ddd, land.str.slice(0, 4), land.str.slice(4)))
        .when(fmt < 6800)
        .then(pl.format("{} {}-{}", ddd, mob.str.slice(1, 4), mob.str.slice(5)))  # mobile without the 9
        .when(fmt < 8600)
        .then(pl.format("({}) {}-{}", ddd, land.str.slice(0, 4), land.str.slice(4)))
        .when(fmt < 8900)
        .then(pl.format("55{}{}", ddd, mob))
        .when(fmt < 9250)
        .then(pl.format("0800 {} {}", sub8.str.slice(0, 3), sub8.str.slice(3)))
        .when(fmt < 9550)
        .then(sub8.str.slice(0, 5))  # too short
        .when(fmt < 9800)
        .then(pl.format("({}) {}", pl.lit("20"), mob))  # DDD that does not exist
        .otherwise(pl.lit("não tem"))
    )


def _email(seed: int, k: int, contato: pl.Expr) -> pl.Expr:
    user = (
        contato.str.to_lowercase()
        .str.replace_all(r"[áàâã]", "a")
        .str.replace_all(r"[éê]", "e")
        .str.replace_all(r"[í]", "i")
        .str.replace_all(r"[óôõ]", "o")
        .str.replace_all(r"[ú]", "u")
        .str.replace_all(r"ç", "c")
        .str.replace_all(r"[^a-z]+", ".")
        .fill_null("contato")
    ) + _digits(seed, k, 3)
    domain = _pick(_DOMAINS, seed, k + 1)
    fmt = _pct(seed, k + 2)
    return (
        pl.when(fmt < 7200)
        .then(user + pl.lit("@") + domain)
        .when(fmt < 8400)
        .then((user + pl.lit("@") + domain).str.to_uppercase())
        .when(fmt < 8800)
        .then(pl.lit("mailto:") + user + pl.lit("@") + domain)
        .when(fmt < 9300)
        .then(pl.lit(" ") + user + pl.lit("@") + domain + pl.lit(" "))
        .when(fmt < 9550)
        .then(user + pl.lit("@") + domain.str.replace(r"\..*$", ""))  # no dot in domain
        .when(fmt < 9800)
        .then(user + pl.lit("@@") + domain)
        .otherwise(user)
    )


def _dv(df: pl.DataFrame, base: str, weights: list[int]) -> pl.Series:
    """Mod-11 check digit of column `base` (values ASCII − 48, so it also serves alphanumeric CNPJs)."""
    vals = []
    for i, w in enumerate(weights):
        b36 = pl.col(base).str.slice(i, 1).str.to_integer(base=36)
        vals.append((b36 + pl.when(b36 >= 10).then(7).otherwise(0)) * w)
    r = pl.sum_horizontal(vals) % 11
    return df.select(pl.when(r < 2).then(0).otherwise(11 - r).cast(pl.String))[:, 0]


def _with_dvs(df: pl.DataFrame, base: str, w1: list[int], w2: list[int]) -> pl.Series:
    d1 = _dv(df, base, w1)
    tmp = df.select((pl.col(base) + d1).alias("_b"))
    d2 = _dv(tmp, "_b", w2)
    return tmp["_b"] + d2


def _documents(df: pl.DataFrame, seed: int, k: int) -> pl.Series:
    """CPF/CNPJ as people store them; check digits computed step by step (materialized, not nested)."""
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    letters = list("ABCDEFGHJKLMNPQRSTUVWXYZ")
    parts = df.select(
        _digits(seed, k + 1, 9).alias("cpf9"),
        (_digits(seed, k + 2, 8) + pl.lit("0001")).alias("cnpj12"),
        (
            _digits(seed, k + 4, 2) + _pick(letters, seed, k + 3) + _digits(seed, k + 5, 4)
            + _pick(letters, seed, k + 7) + pl.lit("0001")
        ).alias("alnum12"),
    )  # fmt: skip
    parts = parts.with_columns(
        _with_dvs(parts, "cpf9", list(range(10, 1, -1)), list(range(11, 1, -1))).alias("cpf"),
        _with_dvs(parts, "cnpj12", w1, [6, *w1]).alias("cnpj"),
        _with_dvs(parts, "alnum12", w1, [6, *w1]).alias("alnum"),
        _pct(seed, k).alias("fmt"),
        _digits(seed, k + 6, 11).alias("junk"),
    )
    cpf, cnpj, fmt = pl.col("cpf"), pl.col("cnpj"), pl.col("fmt")
    return parts.select(
        pl.when(fmt < 3000)
        .then(None)
        .when(fmt < 5000)
        .then(
            pl.format(
                "{}.{}.{}/{}-{}",
                cnpj.str.slice(0, 2),
                cnpj.str.slice(2, 3),
                cnpj.str.slice(5, 3),
                cnpj.str.slice(8, 4),
                cnpj.str.slice(12),
            )
        )  # fmt: skip
        .when(fmt < 6500)
        .then(cnpj.str.strip_chars_start("0"))  # a number in the sheet: leading zeros lost
        .when(fmt < 8000)
        .then(
            pl.format(
                "{}.{}.{}-{}", cpf.str.slice(0, 3), cpf.str.slice(3, 3), cpf.str.slice(6, 3), cpf.str.slice(9)
            )
        )
        .when(fmt < 9000)
        .then(cpf.str.strip_chars_start("0"))
        .when(fmt < 9500)
        .then(pl.col("alnum"))
        .otherwise(pl.col("junk"))  # almost always a wrong check digit
    )[:, 0]


def frame(rows: int, *, seed: int = 0) -> pl.DataFrame:
    """The sheet's cells as text (null = empty cell)."""
    base = pl.DataFrame({"i": pl.int_range(rows, eager=True, dtype=pl.Int64)})
    base = base.with_columns(
        pl.format("{} {}", _pick(_FIRST, seed, 20), _pick(_LAST, seed, 21)).alias("_contato")
    )
    base = base.with_columns(
        _phone(seed, 30).alias("_tel_a"),
        _phone(seed, 40).alias("_tel_b"),
        _phone(seed, 60).alias("_cel"),
        _phone(seed, 140).alias("_wpp"),
        _email(seed, 100, pl.col("_contato")).alias("_email_a"),
        _email(seed, 110, pl.col("_contato")).alias("_email_b"),
        _email(seed, 150, pl.col("_contato")).alias("_email_c"),
        _documents(base, seed, 130).alias("_doc"),
    )
    sep = _pick([" / ", "; ", ", ", " e ", " ou ", "\n", " | "], seed, 50)
    esep = _pick(["; ", ", ", " ", " / "], seed, 120)
    p = [_pct(seed, 70 + j) for j in range(12)]
    dup_of = pl.col("i") - 1 - (_rand(seed, 90) % 50).cast(pl.Int64)
    df = base.select(
        pl.when(p[0] < 10)
        .then(None)
        .when((p[0] < 40) & (dup_of >= 0))
        .then(pl.format("L{}", dup_of.cast(pl.String).str.zfill(7)))  # duplicate id
        .when(p[0] < 3000)
        .then((pl.col("i") + 100_000).cast(pl.String))  # numeric id
        .otherwise(pl.format("L{}", pl.col("i").cast(pl.String).str.zfill(7)))
        .alias("ID"),
        pl.when(p[1] < 15)
        .then(None)
        .otherwise(
            pl.format(
                "{} {} {}", _pick(_W1, seed, 10), _pick(_W2, seed, 11), _pick(_W3, seed, 12)
            ).str.strip_chars()
        )
        .alias("Razão Social"),
        pl.when(p[2] < 6500).then(pl.col("_contato")).alias("Contato"),
        pl.col("_doc").alias("CPF/CNPJ"),
        pl.when(p[3] < 5450)
        .then(None)
        .when(p[3] < 8700)
        .then(pl.col("_tel_a"))
        .otherwise(pl.col("_tel_a") + sep + pl.col("_tel_b"))
        .alias("Telefone"),
        pl.when(p[4] < 1000).then(pl.col("_cel")).alias("Celular"),
        pl.when(p[5] < 400).then(pl.col("_cel")).when(p[5] < 700).then(pl.col("_wpp")).alias("WhatsApp"),
        pl.when(p[6] < 7000)
        .then(None)
        .when(p[6] < 9350)
        .then(pl.col("_email_a"))
        .otherwise(pl.col("_email_a") + esep + pl.col("_email_b"))
        .alias("E-mail"),
        pl.when(p[7] < 150).then(pl.col("_email_c")).alias("E-mail 2"),
        pl.when(p[8] < 8000).then(_pick(_CITIES, seed, 160)).alias("Cidade"),
        (p[9] < 5).alias("_blank"),
    )
    blank = pl.col("_blank")
    return df.select(pl.when(~blank).then(pl.col(c)).alias(c) for c in HEADERS)


# ---------------------------------------------------------------- writers

_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/worksheets/sheet2.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Instruções" sheetId="1" r:id="rId2"/><sheet name="{sheet}" sheetId="2" r:id="rId1"/>'
    "</sheets></workbook>"
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet2.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _xml_escape(e: pl.Expr) -> pl.Expr:
    return (
        e.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _col_letter(i: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def _rows_xml(df: pl.DataFrame, first_line: int) -> str:
    """SpreadsheetML rows for a chunk: numeric-looking cells of numeric columns become number cells."""
    line = pl.int_range(pl.len()).cast(pl.Int64) + first_line
    cells = []
    for i, name in enumerate(df.columns):
        ref = pl.lit(_col_letter(i)) + line.cast(pl.String)
        v = pl.col(name)
        string_cell = pl.format(
            '<c r="{}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>', ref, _xml_escape(v)
        )
        if name in _NUMERIC:
            numeric = v.str.contains(r"^[1-9][0-9]{0,14}$")
            cell = pl.when(numeric).then(pl.format('<c r="{}"><v>{}</v></c>', ref, v)).otherwise(string_cell)
        else:
            cell = string_cell
        cells.append(pl.when(v.is_not_null()).then(cell).otherwise(pl.lit("")))
    xml = pl.format('<row r="{}">', line) + pl.concat_str(cells) + pl.lit("</row>")
    return "".join(df.select(xml.alias("x"))["x"].to_list())


def _header_xml(headers: list[str]) -> str:
    cells = "".join(
        f'<c r="{_col_letter(i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(headers)
    )
    return f'<row r="1">{cells}</row>'


def write_xlsx(df: pl.DataFrame, path: Path, *, sheet: str = "Leads", chunk: int = 100_000) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB.replace("{sheet}", sheet))
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr(
            "xl/worksheets/sheet2.xml",
            _SHEET_HEAD + _header_xml(["Preencha a aba Leads"]) + _SHEET_TAIL,
        )
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write((_SHEET_HEAD + _header_xml(df.columns)).encode())
            for start in range(0, df.height, chunk):
                out.write(_rows_xml(df.slice(start, chunk), start + 2).encode())
            out.write(_SHEET_TAIL.encode())


def generate(
    path: str | Path,
    rows: int,
    *,
    seed: int = 0,
    fmt: str = "xlsx",
    sheet: str = "Leads",
    encoding: str = "utf-8",
    separator: str = ";",
) -> Path:
    """Write a messy leads sheet with `rows` data lines (header excluded) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = frame(rows, seed=seed)
    if fmt == "xlsx":
        write_xlsx(df, path, sheet=sheet)
    elif fmt == "csv":
        text = df.write_csv(separator=separator)
        path.write_bytes(text.encode(encoding, errors="replace"))
    else:
        raise ValueError(f"fmt must be 'xlsx' or 'csv', not {fmt!r}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=164_809)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", action="store_true")
    args = parser.parse_args(argv)
    path = generate(args.out, args.rows, seed=args.seed, fmt="csv" if args.csv else "xlsx")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
