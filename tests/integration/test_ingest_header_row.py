"""A title row, notes or blank rows above the header: the header is found within the first rows and
rejects keep the spreadsheet's own line numbers."""

from __future__ import annotations

from pathlib import Path

from ingest_support import write_xlsx

from pipelines.core.ingest import create_job, list_rejects, run_job
from pipelines.core.ingest.reader import read_sheet

TITLE = [
    [],
    ["Relatório de leads — março"],  # line 2: a title
    ["gerado em 01/03/2025", None, "uso interno"],  # line 3: a note
    [],
    ["Código", "Razão Social", "Telefone", "Celular", "E-mail"],  # line 5: the header
    ["1", "Alfa Ltda", "11 3333-4444", "11 98765-4321", "a@alfa.com.br"],  # line 6
    [],  # line 7: blank (ignored, counted)
    ["2", "", "", "", ""],  # line 8: no nome
    ["1", "Alfa de novo", "", "", ""],  # line 9: duplicate of line 6
    ["3", "Gama", "", "21 99999-8888", ""],  # line 10
]


def test_header_below_a_title_and_blank_rows_keeps_sheet_line_numbers(
    conn, database_url, tenant, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "Leads.xlsx", TITLE)
    raw = read_sheet(path)
    assert raw.header_line == 5 and raw.blank_rows == 1
    assert raw.columns["telefone"] == ["Telefone", "Celular"] and raw.columns["nome"] == ["Razão Social"]
    assert raw.frame["linha"].to_list() == [6, 8, 9, 10]
    job_id = create_job(conn, tenant["id"], path.name, str(path))
    doc = run_job(database_url, job_id)
    assert doc["status"] == "concluido" and doc["leads_criados"] == 2 and doc["telefones_criados"] == 3
    rejects, _ = list_rejects(conn, tenant["id"], job_id)
    assert [(r["linha"], r["motivo"]) for r in rejects] == [
        (8, "nome ausente"),
        (9, "lead_id_externo duplicado no arquivo (primeira ocorrência na linha 6)"),
    ]
    lead = conn.execute(
        "SELECT linha_planilha FROM leads WHERE tenant_id = %s AND lead_id_externo = '3'", (tenant["id"],)
    ).fetchone()
    assert lead["linha_planilha"] == 10


def test_csv_with_a_title_line(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "Exportação do CRM\n\nid;nome;telefone\n1;Alfa;11 98765-4321\n;Sem id;\n", encoding="utf-8"
    )
    raw = read_sheet(path)
    assert raw.header_line == 3 and raw.frame["linha"].to_list() == [4, 5]


def test_header_on_the_first_row_is_unchanged(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "Leads.xlsx", [["id", "nome"], ["1", "A"], [], ["2", "B"]])
    raw = read_sheet(path)
    assert raw.header_line == 1 and raw.frame["linha"].to_list() == [2, 4]
