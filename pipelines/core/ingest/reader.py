"""Reading a leads sheet (.xlsx/.xlsm/.xls/.ods through fastexcel, .csv through polars) with every cell
as text, and mapping its headers onto the canonical columns.

Phones and documents must stay strings: a sheet stores 00123456789 as the number 123456789, and floats
would print 1.1987654321e10. fastexcel's `dtypes="string"` renders numeric cells as their integer text."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl

from pipelines.core.common.errors import ValidationError
from pipelines.core.ingest.limits import check_sheet_file

SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

CANONICAL = ("lead_id_externo", "nome", "contato_nome", "documento", "email", "telefone")
MULTI = ("telefone", "email")  # every column mapping to these is read and concatenated

ALIASES: dict[str, tuple[str, ...]] = {
    "lead_id_externo": ("lead_id_externo", "id", "id_lead", "lead_id", "codigo", "cod", "id_externo"),
    "nome": ("nome", "razao_social", "empresa", "cliente", "nome_empresa"),
    "contato_nome": ("contato_nome", "contato", "responsavel", "nome_contato"),
    "documento": ("documento", "cpf_cnpj", "cnpj_cpf", "cnpj", "cpf", "doc"),
    "email": ("email", "e_mail", "emails", "e_mails"),
    "telefone": ("telefone", "telefones", "fone", "celular", "whatsapp", "tel"),
}
# "Telefone 2", "Celular_1" (fastexcel's suffix for a repeated header), "E-mail comercial", "Fone Fixo".
_MULTI_PATTERNS = {
    "telefone": re.compile(r"^(?:telefones?|fones?|celular(?:es)?|whatsapp|whats|tel)(?:_[a-z0-9_]+)?$"),
    "email": re.compile(r"^(?:e_?mails?)(?:_[a-z0-9_]+)?$"),
}
RAW_JOIN = " / "  # joins several phone/e-mail cells; itself a separator for the splitters


def normalize_header(name: str) -> str:
    """'Razão Social' -> 'razao_social', 'E-mail' -> 'e_mail', ' CPF/CNPJ ' -> 'cpf_cnpj'."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def is_candidate(header: str) -> bool:
    key = normalize_header(header)
    return any(key in names for names in ALIASES.values()) or any(
        p.match(key) for p in _MULTI_PATTERNS.values()
    )


def map_headers(headers: list[str]) -> dict[str, list[str]]:
    """canonical -> original headers (in sheet order). Exact canonical names win over aliases."""
    mapping: dict[str, list[str]] = {}
    for target in CANONICAL:
        found: list[str] = []
        for original in headers:
            key = normalize_header(original)
            if key in ALIASES[target] or (target in MULTI and _MULTI_PATTERNS[target].match(key)):
                found.append(original)
        if not found:
            continue
        if target in MULTI:
            mapping[target] = found
        else:
            exact = [h for h in found if normalize_header(h) == target]
            mapping[target] = [(exact or found)[0]]
    return mapping


HEADER_SCAN_ROWS = 20  # a title, notes or blank rows above the header are looked past up to here


def looks_like_header(cells: list[str]) -> bool:
    """A header row maps at least two known columns, one of them nome or the id."""
    mapping = map_headers(cells)
    return len(mapping) >= 2 and ("nome" in mapping or "lead_id_externo" in mapping)


def find_header_row(rows: list[list[str | None]]) -> int | None:
    """Index of the first row (of the first HEADER_SCAN_ROWS) that looks like the header, else None."""
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if looks_like_header([str(c) for c in row if c is not None and str(c).strip()]):
            return i
    return None


def _header_names(cells: list[str | None]) -> list[str]:
    """Column names from a header row found in the data, as fastexcel names them: empty cells become
    `__UNNAMED__<i>`, a repeated name gets `_1`, `_2`… ("Celular", "Celular_1")."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = str(cell).strip() if cell is not None and str(cell).strip() else f"__UNNAMED__{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


@dataclass
class RawSheet:
    """The mapped columns of a sheet as text. `frame` has `linha` (the spreadsheet's own line number; the
    header is on `header_line`, 1 unless a title or blank rows sit above it) and the original headers of
    the mapped columns; blank rows are already dropped."""

    frame: pl.DataFrame
    columns: dict[str, list[str]]
    sheet: str
    headers: list[str] = field(default_factory=list)
    blank_rows: int = 0
    header_line: int = 1
    avisos: dict[str, Any] = field(default_factory=dict)  # warnings of the reading itself (encoding)

    @property
    def rows(self) -> int:
        return self.frame.height


def check_supported(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValidationError(
            f"formato não suportado: {suffix or 'sem extensão'!r} (use {', '.join(SUPPORTED_SUFFIXES)})",
            field="arquivo",
        )
    return suffix


def read_sheet(path: str | Path, sheet: str = "Leads", *, filename: str | None = None) -> RawSheet:
    """Read one sheet (or a CSV) as text with the headers mapped. Raises ValidationError for a missing
    sheet (naming the ones that exist), a corrupt file, or no id/nome column."""
    path = Path(path)
    suffix = check_supported(filename or path.name)
    if not path.is_file():
        raise ValidationError(f"arquivo não encontrado: {path}", field="arquivo")
    display = Path(filename).name if filename else path.name
    check_sheet_file(path, suffix, display)  # before loading: a zip bomb or a huge extent ends here
    avisos: dict[str, Any] = {}
    if suffix == ".csv":
        frame, headers, header_idx, avisos = _read_csv(path, display)
        sheet_name = sheet
    else:
        frame, headers, sheet_name, header_idx = _read_excel(path, sheet, display)
    refuse_duplicate_headers(headers)
    columns = map_headers(headers)
    _require(columns, headers)
    wanted = [h for cols in columns.values() for h in cols]
    # The frame's rows start right below the header (blank rows included), so line = header line + 1 + i.
    frame = (
        frame.select(wanted)
        .with_row_index("linha", offset=header_idx + 2)
        .with_columns(pl.col("linha").cast(pl.Int32))
    )
    not_blank = pl.any_horizontal(pl.col(c).str.strip_chars().str.len_chars() > 0 for c in wanted)
    before = frame.height
    frame = frame.filter(not_blank.fill_null(False))
    return RawSheet(
        frame, columns, sheet_name, headers, before - frame.height, header_line=header_idx + 1, avisos=avisos
    )


# How the readers rename a repeated header: fastexcel "Nome_1", polars' CSV reader "nome_duplicated_0".
_REPEATED = re.compile(r"^(.+?)(?:_duplicated_\d+|_\d+)$")


def refuse_duplicate_headers(headers: list[str]) -> None:
    """Two columns with the same name for a single-valued field (nome, id, documento, contato) are
    ambiguous: which one is the lead's? Refused, naming it. Repeated phone or e-mail columns are fine
    (several contacts)."""
    present = set(headers)
    for header in headers:
        m = _REPEATED.match(header)
        if not m or m.group(1) not in present:
            continue
        key = normalize_header(m.group(1))
        if any(key in ALIASES[t] for t in CANONICAL if t not in MULTI):
            raise ValidationError(
                f"cabeçalho repetido: {m.group(1)!r} aparece em mais de uma coluna; deixe só uma "
                "(ou renomeie a outra)",
                field=m.group(1),
            )


def _require(columns: dict[str, list[str]], headers: list[str]) -> None:
    for target in ("nome", "lead_id_externo"):
        if target not in columns:
            raise ValidationError(
                f"a planilha não tem coluna de {target} (aceitos: {', '.join(ALIASES[target])}); "
                f"colunas encontradas: {', '.join(map(str, headers)) or 'nenhuma'}",
                field=target,
            )


def _read_excel(path: Path, sheet: str, display: str) -> tuple[pl.DataFrame, list[str], str, int]:
    try:
        reader = fastexcel.read_excel(path)
    except fastexcel.FastExcelError as exc:
        raise ValidationError(f"arquivo corrompido ou ilegível ({display}): {_first_line(exc)}") from exc
    names = reader.sheet_names
    if sheet not in names:
        # Be lenient on case/spacing ("leads", " Leads ") but never guess another sheet.
        matches = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if len(matches) != 1:
            raise ValidationError(
                f"aba {sheet!r} não encontrada; abas existentes: {', '.join(repr(n) for n in names)}",
                field="aba",
            )
        sheet = matches[0]
    headers: list[str] = []

    def use(col: fastexcel.ColumnInfoNoDtype) -> bool:
        # Only columns that can map are materialized: unmapped ones would only cost memory.
        headers.append(col.name)
        return is_candidate(col.name)

    # Common case, one parse: the first row is the header.
    try:
        loaded = reader.load_sheet(sheet, dtypes="string", use_columns=use, whitespace_as_null=True)
        if looks_like_header(headers):
            # A sheet with only a header gives Null-typed columns; cast everything to text.
            return loaded.to_polars().with_columns(pl.all().cast(pl.String)), headers, sheet, 0
    except fastexcel.FastExcelError as exc:
        if not headers or any(is_candidate(h) for h in headers):
            raise ValidationError(f"não foi possível ler a aba {sheet!r}: {_first_line(exc)}") from exc
    # A title, notes or blank rows above the header: read the sheet without a header (absolute rows:
    # skip_rows=0 keeps leading blank rows) and take the first row that looks like one.
    try:
        grid = reader.load_sheet(
            sheet, header_row=None, skip_rows=0, dtypes="string", whitespace_as_null=True
        ).to_polars()
    except fastexcel.FastExcelError as exc:
        raise ValidationError(f"não foi possível ler a aba {sheet!r}: {_first_line(exc)}") from exc
    found = find_header_row([list(r) for r in grid.head(HEADER_SCAN_ROWS).iter_rows()])
    if found is None:
        _require(map_headers(headers), headers)  # names what the first row has
        raise ValidationError(f"a aba {sheet!r} não tem cabeçalho reconhecível")
    names = _header_names(list(grid.row(found)))
    keep = [i for i, n in enumerate(names) if is_candidate(n)]
    frame = grid.slice(found + 1).select(
        pl.col(grid.columns[i]).cast(pl.String).alias(names[i]) for i in keep
    )
    return frame, names, sheet, found


# A valid UTF-8 multi-byte sequence. Portuguese text in CP1252 ("João" = 4A 6F E3 6F) has none: an accented
# letter is one byte followed by ASCII.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
MAX_LISTED_LINES = 20


def decode_text(data: bytes) -> tuple[str, list[int]]:
    """A CSV's text and the (1-based) lines that were not UTF-8. UTF-8 when the whole file is; CP1252 (or
    Latin-1) when no line uses UTF-8 at all; a UTF-8 file with a few invalid lines keeps UTF-8 everywhere
    else and decodes only those lines as CP1252, so one bad line never garbles `João` into `JoÃ£o` in
    the others. The caller reports the lines."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    if _UTF8_SEQUENCE.search(data) is None:
        return _legacy(data), []
    lines = data.split(b"\n")
    bad: list[int] = []
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            bad.append(number)
            out.append(_legacy(line))
    text = "\n".join(out)
    return (text[1:] if text.startswith("\ufeff") else text), bad


def _legacy(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # the 5 bytes CP1252 leaves undefined
        return data.decode("latin-1")


def _read_csv(path: Path, display: str) -> tuple[pl.DataFrame, list[str], int, dict[str, Any]]:
    data = path.read_bytes()
    if not data.strip():
        raise ValidationError(f"arquivo CSV vazio: {display}")
    if b"\x00" in data[:4096]:
        raise ValidationError(f"arquivo corrompido ou ilegível ({display}): não é um CSV de texto")
    text, legacy_lines = decode_text(data)
    # The header is the first of the first lines that looks like one (a title or blank lines may sit
    # above it); the separator is the one under which it does (else the more frequent in the first line).
    head = [line.rstrip("\r") for line in text.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS]]
    first = head[0] if head else ""
    separator, header_idx = (";" if first.count(";") > first.count(",") else ","), 0
    for sep in sorted((";", ","), key=lambda c: -first.count(c)):
        found = find_header_row(list(csv.reader(head, delimiter=sep)))
        if found is not None:
            separator, header_idx = sep, found
            break
    try:
        frame = pl.read_csv(
            text.encode("utf-8"),
            separator=separator,
            infer_schema=False,
            truncate_ragged_lines=True,
            skip_lines=header_idx,
        )
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(f"CSV ilegível ({display}): {_first_line(exc)}") from exc
    frame = frame.with_columns(
        pl.when(pl.all().str.strip_chars() == "").then(None).otherwise(pl.all()).name.keep()
    )
    avisos: dict[str, Any] = {}
    if legacy_lines:
        avisos = {
            "linhas_fora_de_utf8": len(legacy_lines),
            "linhas_fora_de_utf8_primeiras": legacy_lines[:MAX_LISTED_LINES],
            "codificacao": "UTF-8; as linhas listadas não eram UTF-8 e foram lidas como CP1252",
        }
    return frame, list(frame.columns), header_idx, avisos


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
