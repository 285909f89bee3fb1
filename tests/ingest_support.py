"""Small hand-made sheets for ingest tests (the generator in pipelines.sample_sheet makes the big ones)."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter


def write_xlsx(
    path: Path, rows: list[list[object]], sheet: str = "Leads", extra_sheets: tuple[str, ...] = ()
) -> Path:
    wb = xlsxwriter.Workbook(path)
    for name in extra_sheets:
        wb.add_worksheet(name)
    ws = wb.add_worksheet(sheet)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                ws.write(i, j, value)
    wb.close()
    return path
