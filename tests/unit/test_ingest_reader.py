"""Reading sheets: headers/aliases, several phone/e-mail columns, text cells, CSV encodings, errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from ingest_support import write_xlsx

from pipelines.core.common.errors import ValidationError
from pipelines.core.common.filestore import store_file
from pipelines.core.common.settings import Settings
from pipelines.core.ingest import normalize as N
from pipelines.core.ingest.reader import map_headers, normalize_header, read_sheet
from pipelines.sample_sheet import HEADERS, generate


def test_normalize_header() -> None:
    assert normalize_header("Razão Social") == "razao_social"
    assert normalize_header(" E-mail ") == "e_mail"
    assert normalize_header("CPF/CNPJ") == "cpf_cnpj"
    assert normalize_header("WhatsApp") == "whatsapp"


def test_aliases_and_multi_columns() -> None:
    headers = ["Código", "Razão Social", "Responsável", "CNPJ", "Telefone", "Celular", "WhatsApp", "Fone 2",
               "E-mail", "E-mails", "Cidade", "Telefone_1"]  # fmt: skip
    m = map_headers(headers)
    assert m["lead_id_externo"] == ["Código"]
    assert m["nome"] == ["Razão Social"]
    assert m["contato_nome"] == ["Responsável"]
    assert m["documento"] == ["CNPJ"]
    assert m["telefone"] == ["Telefone", "Celular", "WhatsApp", "Fone 2", "Telefone_1"]
    assert m["email"] == ["E-mail", "E-mails"]
    assert "Cidade" not in sum(m.values(), [])


def test_exact_canonical_name_wins() -> None:
    assert map_headers(["empresa", "Nome", "id"])["nome"] == ["Nome"]


def test_numbers_read_as_text_and_columns_concatenated(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [
            ["ID", "Empresa", "CPF", "Telefone", "Celular", "WhatsApp", "E-mail", "E-mail 2"],
            [1, "A", 191, 11987654321, "(11) 3333-4444", None, "a@b.com", "c@d.com"],
            [None, None, None, None, None, None, None, None],
            ["  ", " ", None, None, None, None, None, None],
            [3, "C", 11222333000181, None, None, 5521987654321, None, None],
        ],
        extra_sheets=("Capa",),
    )
    raw = read_sheet(path)
    assert raw.blank_rows == 2
    assert raw.frame["linha"].to_list() == [2, 5]  # spreadsheet lines, header is line 1
    canon = N.canonical(raw).collect()
    assert canon["lead_id_externo"].to_list() == ["1", "3"]
    assert canon["documento"].to_list() == ["191", "11222333000181"]
    assert canon["telefone_raw"].to_list() == ["11987654321 / (11) 3333-4444", "5521987654321"]
    assert canon["email_raw"].to_list() == ["a@b.com / c@d.com", None]


def test_missing_sheet_names_existing_ones(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx", [["ID", "Nome"], [1, "A"]], sheet="Planilha1", extra_sheets=("Capa",)
    )
    with pytest.raises(ValidationError) as err:
        read_sheet(path)
    assert (
        "'Leads'" in err.value.message
        and "'Capa'" in err.value.message
        and "'Planilha1'" in err.value.message
    )
    assert read_sheet(path, "Planilha1").rows == 1
    assert read_sheet(path, "planilha1").sheet == "Planilha1"  # case-insensitive when unambiguous


def test_no_nome_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [["ID", "Telefone"], [1, "11987654321"]])
    with pytest.raises(ValidationError, match="coluna de nome"):
        read_sheet(path)


def test_no_mapped_column_at_all(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [["Foo", "Bar"], [1, 2]])
    with pytest.raises(ValidationError, match="coluna de nome"):
        read_sheet(path)


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".ods", ".csv"])
def test_corrupt_or_unsupported(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    path.write_bytes(b"\x00\x01garbage\x00" * 10)
    with pytest.raises(ValidationError, match="corrompido|ilegível"):
        read_sheet(path)
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(ValidationError, match="formato não suportado"):
        read_sheet(tmp_path / "x.txt")


def test_csv_latin1_semicolon(tmp_path: Path) -> None:
    text = "Código;Razão Social;Telefone;E-mail\n1;Padaria São João;(11) 3333-4444;a@b.com\n\n2;Café Ipê;;\n"
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("latin-1"))
    raw = read_sheet(path)
    assert raw.frame["linha"].to_list() == [2, 4]
    canon = N.canonical(raw).collect()
    assert canon["nome"].to_list() == ["Padaria São João", "Café Ipê"]
    assert canon["telefone_raw"].to_list() == ["(11) 3333-4444", None]


def test_csv_utf8_comma_with_quoted_newlines(tmp_path: Path) -> None:
    text = 'id,nome,telefone\n1,"Ótica, Ltda","11 3333-4444\n11 98765-4321"\n'
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    canon = N.canonical(read_sheet(path)).collect()
    assert canon["nome"].to_list() == ["Ótica, Ltda"]
    assert canon["telefone_raw"].to_list() == ["11 3333-4444\n11 98765-4321"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_generated_sheet_reads(tmp_path: Path, fmt: str) -> None:
    path = generate(tmp_path / f"g.{fmt}", 200, seed=3, fmt=fmt)
    raw = read_sheet(path)
    assert raw.rows + raw.blank_rows == 200
    assert set(raw.columns["telefone"]) == {"Telefone", "Celular", "WhatsApp"}
    assert set(raw.columns["email"]) == {"E-mail", "E-mail 2"}
    assert set(HEADERS) - {"Cidade"} <= set(sum(raw.columns.values(), []))


def test_filestore_is_content_addressed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    settings = Settings.from_env()
    src = tmp_path / "Leads Março.XLSX"
    src.write_bytes(b"conteudo")
    p1, sha = store_file(settings, src, src.name)
    p2, sha2 = store_file(settings, b"conteudo", "outro.xlsx")
    assert sha == sha2 and p1 == p2
    assert p1 == settings.arquivos_dir / sha[:2] / f"{sha}.xlsx"
    assert p1.read_bytes() == b"conteudo"
    assert [p.name for p in p1.parent.iterdir()] == [p1.name]  # no temp files left behind
    with pytest.raises(ValidationError):
        store_file(settings, tmp_path / "nao-existe.xlsx", "nao-existe.xlsx")


def test_canonical_frame_is_lazy_and_pure() -> None:
    from pipelines.core.ingest.reader import RawSheet

    raw = RawSheet(
        pl.DataFrame({"linha": [2], "ID": ["1"], "Nome": ["A"]}),
        {"lead_id_externo": ["ID"], "nome": ["Nome"]},
        "Leads",
    )
    out = N.canonical(raw)
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().columns == [
        "linha",
        "lead_id_externo",
        "nome",
        "contato_nome",
        "documento",
        "telefone_raw",
        "email_raw",
    ]
