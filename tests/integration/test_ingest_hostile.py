"""Hostile spreadsheets end the job in `erro` with a clear message, before the sheet is loaded, and write
nothing: a zip bomb (also one whose archive lies about its sizes), a sheet 16,384 columns wide, a sparse
sheet whose extent is huge, a CSV with too many lines, duplicate header names (pipelines.core.ingest)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from ingest_support import write_xlsx

from pipelines.core.ingest import limits

HEADER = ["ID", "Razão Social", "Telefone"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _ingest_fails(cli, conn, path: Path, *expected: str) -> str:
    code, out, err = cli("ingest", str(path), "--tenant", "acme")
    assert code != 0 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last.startswith("erro: job "), err
    for text in expected:
        assert text in last, last
    job = conn.execute("SELECT status, mensagem_erro FROM ingest_jobs ORDER BY created_at DESC").fetchone()
    assert job["status"] == "erro" and expected[0] in job["mensagem_erro"]
    assert conn.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 0
    return last


def _bomb(path: Path, inflated_mb: int) -> Path:
    """A valid workbook whose sheet XML carries `inflated_mb` MB of blanks (compresses ~1000:1)."""
    write_xlsx(path, [HEADER, ["1", "Alfa", "11999990000"]])
    with zipfile.ZipFile(path) as src:
        entries = {i.filename: src.read(i) for i in src.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"]
    cut = sheet.index(b"</sheetData>")
    out = path.with_name("bomb-" + path.name)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries.items():
            if name != "xl/worksheets/sheet1.xml":
                dst.writestr(name, data)
        with dst.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(sheet[:cut])
            block = b" " * (1024 * 1024)
            for _ in range(inflated_mb):
                fh.write(block)
            fh.write(sheet[cut:])
    return out


def _lie_about_sizes(path: Path) -> None:
    """Rewrite every declared uncompressed size in the central directory to 1 KiB."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        data[pos + 24 : pos + 28] = struct.pack("<L", 1024)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def test_zip_bomb_is_refused_before_loading(cli, conn, tenant, home, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_PLANILHA_MB", "16")
    bomb = _bomb(tmp_path / "leads.xlsx", 40)
    assert bomb.stat().st_size < 1024 * 1024
    _ingest_fails(
        cli, conn, bomb, "planilha grande demais", "o limite é 16 MB", "DISPARO_AGENDA_MAX_PLANILHA_MB"
    )


def test_zip_bomb_that_lies_about_its_size(cli, conn, tenant, home, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_PLANILHA_MB", "16")
    bomb = _bomb(tmp_path / "leads.xlsx", 40)
    _lie_about_sizes(bomb)
    with zipfile.ZipFile(bomb) as zf:
        assert sum(i.file_size for i in zf.infolist()) < 16 * 1024  # what the archive claims
    _ingest_fails(cli, conn, bomb, "planilha grande demais", "o limite é 16 MB")


def test_a_bomb_under_the_limit_still_ingests(cli, conn, tenant, home, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_PLANILHA_MB", "16")
    code, out, err = cli("ingest", str(_bomb(tmp_path / "leads.xlsx", 4)), "--tenant", "acme")
    assert code == 0, err
    assert conn.execute("SELECT count(*) AS n FROM leads").fetchone()["n"] == 1


def test_sheet_with_16384_columns(cli, conn, tenant, home, tmp_path) -> None:
    path = tmp_path / "larga.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Leads")
    ws.write_row(0, 0, HEADER + [f"extra {i}" for i in range(16384 - len(HEADER))])
    ws.write_row(1, 0, ["1", "Alfa", "11999990000"])
    wb.close()
    _ingest_fails(cli, conn, path, "colunas demais", "16.384 colunas", "o limite é 512")


def test_sparse_sheet_with_a_huge_extent(cli, conn, tenant, home, tmp_path, monkeypatch) -> None:
    """Two cells far apart cost the reader the whole rectangle between them."""
    path = tmp_path / "esparsa.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Leads")
    ws.write_row(0, 0, HEADER)
    ws.write_row(1, 0, ["1", "Alfa", "11999990000"])
    ws.write(1_048_575, 400, "x")  # column OK (401 <= 512), rows x columns = 420 million cells
    wb.close()
    _ingest_fails(cli, conn, path, "planilha grande demais", "células", "DISPARO_AGENDA_MAX_CELULAS")
    # the same extent without the <dimension> tag is caught from the cell references
    with zipfile.ZipFile(path) as src:
        entries = {i.filename: src.read(i) for i in src.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"]
    start = sheet.index(b"<dimension")
    entries["xl/worksheets/sheet1.xml"] = sheet[:start] + sheet[sheet.index(b"/>", start) + 2 :]
    stripped = tmp_path / "sem-dimensao.xlsx"
    with zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries.items():
            dst.writestr(name, data)
    conn.execute("DELETE FROM ingest_jobs")
    _ingest_fails(cli, conn, stripped, "planilha grande demais", "células")


def test_csv_with_too_many_lines_or_columns(cli, conn, tenant, home, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_LINHAS", "100")
    path = tmp_path / "longa.csv"
    path.write_text("id;nome;telefone\n" + "".join(f"{i};Empresa {i};1199999{i:04d}\n" for i in range(150)))
    _ingest_fails(cli, conn, path, "linhas demais", "151 linhas", "DISPARO_AGENDA_MAX_LINHAS")
    monkeypatch.delenv("DISPARO_AGENDA_MAX_LINHAS")
    wide = tmp_path / "larga.csv"
    wide.write_text(
        ";".join(["id", "nome"] + [f"c{i}" for i in range(1000)]) + "\n1;Alfa" + ";" * 1000 + "\n"
    )
    _ingest_fails(cli, conn, wide, "colunas demais", "1.002 colunas")


def test_duplicate_header_names_are_refused(cli, conn, tenant, home, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "dup.xlsx", [["ID", "Nome", "Nome", "Telefone"], ["1", "Alfa", "Beta", "11999990000"]]
    )
    _ingest_fails(cli, conn, path, "cabeçalho repetido", "'Nome'")
    csv = tmp_path / "dup.csv"
    csv.write_text("id;nome;documento;documento\n1;Alfa;111;222\n")
    conn.execute("DELETE FROM ingest_jobs")
    _ingest_fails(cli, conn, csv, "cabeçalho repetido", "'documento'")
    # repeated phone / e-mail columns are several contacts, as before
    ok = write_xlsx(
        tmp_path / "fones.xlsx",
        [["ID", "Nome", "Telefone", "Telefone"], ["1", "Alfa", "11999990000", "11988880000"]],
    )
    code, _, err = cli("ingest", str(ok), "--tenant", "acme")
    assert code == 0, err


def test_column_index() -> None:
    assert [limits.column_index(c) for c in ("A", "Z", "AA", "ZZ", "XFD")] == [1, 26, 27, 702, 16384]


def _ods(path: Path, rows_repeated: int, cols_repeated: int, filled: bool) -> Path:
    """A tiny .ods whose second row is repeated `rows_repeated` times, with `cols_repeated` copies of a
    cell (filled or empty) after the id."""
    cell = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
    cell = cell if filled else "<table:table-cell/>"
    cell = cell.replace(
        "<table:table-cell", f'<table:table-cell table:number-columns-repeated="{cols_repeated}"', 1
    )
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    header = "".join(
        f'<table:table-cell office:value-type="string"><text:p>{h}</text:p></table:table-cell>'
        for h in HEADER
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2"><office:body>'
        f'<office:spreadsheet><table:table table:name="Leads"><table:table-row>{header}</table:table-row>'
        f'<table:table-row table:number-rows-repeated="{rows_repeated}"><table:table-cell office:value-type="string">'
        f"<text:p>1</text:p></table:table-cell>{cell}</table:table-row></table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:'
        'xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
        'manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", manifest)
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def test_ods_repeated_cells_bomb(cli, conn, tenant, home, tmp_path) -> None:
    """2 KB that the reader would expand to 100 million filled cells."""
    bomb = _ods(tmp_path / "repetida.ods", 1_000_000, 100, filled=True)
    assert bomb.stat().st_size < 4096
    _ingest_fails(cli, conn, bomb, "planilha grande demais", "células", "DISPARO_AGENDA_MAX_CELULAS")


def test_ods_trailing_empty_repeats_are_fine(tmp_path) -> None:
    """LibreOffice pads rows with repeated empty cells: they cost nothing and pass."""
    limits.check_sheet_file(_ods(tmp_path / "vazia.ods", 1000, 16000, filled=False), ".ods", "x")
