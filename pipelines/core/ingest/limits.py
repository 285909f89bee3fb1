"""Size limits of a spreadsheet, checked before it is loaded, so a hostile file ends the job in `erro`
with a clear message instead of exhausting memory.

- .xlsx/.xlsm/.ods are zip archives: a 10 MB file may inflate to gigabytes (a zip bomb). Every entry is
  inflated here as a stream (a few MB of memory, nothing kept) and the job is refused as soon as the
  inflated total passes `max_inflated_bytes` — the sizes the archive *declares* are checked first, and
  are not trusted, since an archive can lie about them.
- While the worksheets stream by, their extent is read from the cell references: the last `<row r="N">`
  (rows) and the widest `<c r="XFD1">` (columns). The reader (calamine, under fastexcel) allocates the
  whole rectangle of a sheet, so two cells at A1 and XFD1048576 would cost 17 billion cells: rows,
  columns and rows × columns are capped. A `<dimension ref>` that claims more than the limits is refused
  too.
- .csv: the file size and the number of lines and columns.
- .xls (at most 65,536 × 256 cells by format) is bounded by its file size.

The limits come from Settings (DISPARO_AGENDA_MAX_PLANILHA_MB, _MAX_LINHAS, _MAX_COLUNAS, _MAX_CELULAS)."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.common.errors import ValidationError
from pipelines.core.common.settings import Settings

_CHUNK = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's structFileHeader (30 bytes)
_ROW = re.compile(rb'<row[^>]*?\sr="(\d+)"')
# Only references of two or three letters are collected: a sheet of up to 26 columns (most lead sheets)
# matches nothing, so the scan costs a search, not a match per cell.
# (Only cell references hold letters in an r="…" attribute; a row's r is a number.)
_WIDE_CELL = re.compile(rb' r="([A-Z]{2,3})\d')
_DIMENSION = re.compile(rb'<dimension\s+ref="(?:[A-Z]+\d+:)?([A-Z]+)(\d+)"')


@dataclass(frozen=True)
class SheetLimits:
    max_inflated_bytes: int
    max_rows: int
    max_columns: int
    max_cells: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SheetLimits:
        return cls(
            settings.max_planilha_bytes, settings.max_linhas, settings.max_colunas, settings.max_celulas
        )


def column_index(letters: bytes | str) -> int:
    """'A' -> 1, 'Z' -> 26, 'AA' -> 27, 'XFD' -> 16384."""
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f}".replace(",", ".")


def _n(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def check_sheet_file(path: Path, suffix: str, display: str, limits: SheetLimits | None = None) -> None:
    """Raise ValidationError when the file is larger, once inflated, or wider/longer than the limits."""
    limits = limits or SheetLimits.from_settings(Settings.from_env())
    if suffix in (".xlsx", ".xlsm", ".ods"):
        _check_zip(path, display, limits)
    elif suffix == ".csv":
        _check_csv(path, display, limits)
    elif path.stat().st_size > limits.max_inflated_bytes:
        raise _too_big(display, path.stat().st_size, limits)


def _too_big(display: str, size: int, limits: SheetLimits) -> ValidationError:
    return ValidationError(
        f"planilha grande demais ({display}): mais de {_mb(size)} MB descompactada; o limite é "
        f"{_mb(limits.max_inflated_bytes)} MB (DISPARO_AGENDA_MAX_PLANILHA_MB)",
        field="arquivo",
    )


def _check_extent(display: str, rows: int, columns: int, limits: SheetLimits, where: str = "") -> None:
    if columns > limits.max_columns:
        raise ValidationError(
            f"planilha com colunas demais ({display}{where}): {_n(columns)} colunas; o limite é "
            f"{_n(limits.max_columns)} (DISPARO_AGENDA_MAX_COLUNAS)",
            field="arquivo",
        )
    if rows > limits.max_rows:
        raise ValidationError(
            f"planilha com linhas demais ({display}{where}): {_n(rows)} linhas; o limite é "
            f"{_n(limits.max_rows)} (DISPARO_AGENDA_MAX_LINHAS)",
            field="arquivo",
        )
    if rows * columns > limits.max_cells:
        raise ValidationError(
            f"planilha grande demais ({display}{where}): {_n(rows)} linhas × {_n(columns)} colunas = "
            f"{_n(rows * columns)} células; o limite é {_n(limits.max_cells)} (DISPARO_AGENDA_MAX_CELULAS)",
            field="arquivo",
        )


def _check_zip(path: Path, display: str, limits: SheetLimits) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a readable archive: the reader says so with its own message
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_inflated_bytes:
        raise _too_big(display, declared, limits)
    total = 0
    with path.open("rb") as fh:
        for info in infos:
            is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
            total = _inflate(fh, info, display, limits, total, is_sheet)
    if path.suffix.lower() == ".ods" or any(i.filename == "content.xml" for i in infos):
        _check_ods(path, display, limits)


_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _check_ods(path: Path, display: str, limits: SheetLimits) -> None:
    """An .ods repeats a cell with `table:number-columns-repeated` and a row with
    `table:number-rows-repeated`, and the reader expands the repeats of cells that hold something (a
    few bytes can stand for millions of cells; trailing empty repeats cost nothing). The extent of the
    filled cells of each table, counting repeats, is checked like an xlsx sheet's (streamed, after
    the inflated size was checked)."""
    from xml.etree.ElementTree import ParseError, iterparse

    row_tag, table_tag = f"{{{_TABLE_NS}}}table-row", f"{{{_TABLE_NS}}}table"
    cells = (f"{{{_TABLE_NS}}}table-cell", f"{{{_TABLE_NS}}}covered-table-cell")
    rep_cols, rep_rows = f"{{{_TABLE_NS}}}number-columns-repeated", f"{{{_TABLE_NS}}}number-rows-repeated"
    value_type = f"{{{_OFFICE_NS}}}value-type"
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh:
            row = max_row = max_col = 0
            for _, elem in iterparse(fh, events=("end",)):
                if elem.tag == row_tag:
                    repeat = int(elem.get(rep_rows, "1") or 1)
                    col = filled_col = 0
                    for cell in elem:
                        if cell.tag not in cells:
                            continue
                        col += int(cell.get(rep_cols, "1") or 1)
                        if cell.get(value_type) is not None or len(cell):
                            filled_col = col
                    row += repeat
                    if filled_col:
                        max_row, max_col = row, max(max_col, filled_col)
                    elem.clear()
                    if max_col > limits.max_columns or max_row > limits.max_rows:
                        _check_extent(display, max_row, max_col, limits)
                elif elem.tag == table_tag:
                    _check_extent(
                        display, max_row, max_col, limits, f", aba {elem.get(f'{{{_TABLE_NS}}}name')!r}"
                    )
                    row = max_row = max_col = 0
                    elem.clear()
    except (KeyError, ParseError, zipfile.BadZipFile, ValueError):
        return  # no content.xml or a corrupt one: the reader reports it


def _inflate(fh, info: zipfile.ZipInfo, display: str, limits: SheetLimits, total: int, is_sheet: bool) -> int:
    """Stream one entry through zlib, adding its real inflated size to `total` (refused past the limit);
    for a worksheet, also track its rows and widest column. Returns the new total."""
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        return total
    fields = _LOCAL_HEADER.unpack(header)
    fh.seek(fields[10] + fields[11], 1)  # file name and extra field
    if info.compress_type == zipfile.ZIP_STORED:
        inflater = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
    else:
        return total  # another method: the reader decides
    where = f", {Path(info.filename).name}"
    left = info.compress_size
    tail = b""
    max_row = max_col = 0
    first = True
    while left > 0:
        data = fh.read(min(_CHUNK, left))
        if not data:
            break
        left -= len(data)
        while data:
            if inflater is None:
                out, data = data, b""
            else:
                try:
                    out = inflater.decompress(data, _CHUNK)
                except zlib.error:
                    return total  # corrupt: the reader reports it
                data = inflater.unconsumed_tail
            total += len(out)
            if total > limits.max_inflated_bytes:
                raise _too_big(display, total, limits)
            if not is_sheet or not out:
                continue
            text = tail + out
            if first:
                first = False
                dim = _DIMENSION.search(text[:65536])
                if dim:
                    _check_extent(display, int(dim.group(2)), column_index(dim.group(1)), limits, where)
            rows = _ROW.findall(text[-65536:]) if b"<row" in text else []
            if rows:
                max_row = max(max_row, int(rows[-1]))
            for letters in set(_WIDE_CELL.findall(text)):
                max_col = max(max_col, column_index(letters))
            if max_col > limits.max_columns or max_row > limits.max_rows:
                _check_extent(display, max_row, max(max_col, 1), limits, where)
            tail = text[-64:]
    if is_sheet:
        _check_extent(display, max_row, max(max_col, 26 if max_row else 0), limits, where)
    return total


def _check_csv(path: Path, display: str, limits: SheetLimits) -> None:
    size = path.stat().st_size
    if size > limits.max_inflated_bytes:
        raise _too_big(display, size, limits)
    lines = 0
    first_line = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if not first_line:
                first_line = chunk.split(b"\n", 1)[0]
            lines += chunk.count(b"\n")
    columns = max(first_line.count(b";"), first_line.count(b",")) + 1
    _check_extent(display, lines, columns, limits)
