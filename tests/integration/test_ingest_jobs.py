"""Ingest on real PostgreSQL: load, counts, re-import (idempotent union), rejects, all-or-nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ingest_support import write_xlsx

from pipelines.core.common.db import connect
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError
from pipelines.core.ingest import (
    create_job,
    job_document,
    list_rejects,
    load,
    read_sheet,
    rejects_csv,
    run_job,
)
from pipelines.core.ingest.pipeline import prepare
from pipelines.sample_sheet import generate


def ingest(conn: psycopg.Connection, url: str, tenant_id: Any, path: Path, **kw: Any) -> dict[str, Any]:
    job_id = create_job(conn, tenant_id, path.name, str(path), **kw)
    return run_job(url, job_id)


def snapshot(conn: psycopg.Connection, tenant_id: Any) -> dict[str, Any]:
    q = lambda sql: sorted(tuple(r.values()) for r in conn.execute(sql, (tenant_id,)).fetchall())  # noqa: E731
    return {
        "leads": q(
            "SELECT lead_id_externo, nome, contato_nome, documento, documento_tipo FROM leads WHERE tenant_id = %s"
        ),
        "tel": q(
            "SELECT l.lead_id_externo, t.telefone, t.telefone_principal, t.tipo_origem FROM lead_telefones t "
            "JOIN leads l USING (lead_id) WHERE t.tenant_id = %s"
        ),
        "email": q(
            "SELECT l.lead_id_externo, e.email, e.email_principal FROM lead_emails e "
            "JOIN leads l USING (lead_id) WHERE e.tenant_id = %s"
        ),
    }


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    return generate(tmp_path / "Leads_Organizados.xlsx", 400, seed=7)


def test_load_generated_sheet(conn, database_url, tenant, sheet) -> None:
    prepared = prepare(read_sheet(sheet))
    doc = ingest(conn, database_url, tenant["id"], sheet)
    assert doc["status"] == "concluido", doc["mensagem_erro"]
    assert doc["leads_criados"] == prepared.leads.height > 300
    assert doc["telefones_criados"] == prepared.phones.height > 100
    assert doc["emails_criados"] == prepared.emails.height > 50
    assert doc["linhas_rejeitadas"] == prepared.linhas_rejeitadas > 0
    assert doc["linhas_processadas"] == doc["linhas_total"] == prepared.linhas
    assert doc["avisos"]["telefones_invalidos"] > 0 and doc["avisos"]["emails_invalidos"] > 0
    assert doc["iniciado_em"] and doc["concluido_em"]
    snap = snapshot(conn, tenant["id"])
    assert len(snap["leads"]) == doc["leads_criados"]
    assert len(snap["tel"]) == doc["telefones_criados"]
    # Exactly one principal phone per lead that has phones, and one principal e-mail likewise.
    rows = conn.execute(
        "SELECT lead_id, count(*) FILTER (WHERE telefone_principal) AS p FROM lead_telefones GROUP BY lead_id"
    ).fetchall()
    assert rows and all(r["p"] == 1 for r in rows)
    rows = conn.execute(
        "SELECT lead_id, count(*) FILTER (WHERE email_principal) AS p FROM lead_emails GROUP BY lead_id"
    ).fetchall()
    assert rows and all(r["p"] == 1 for r in rows)
    lead = conn.execute("SELECT * FROM leads WHERE tenant_id = %s LIMIT 1", (tenant["id"],)).fetchone()
    assert lead["origem_arquivo"] == "Leads_Organizados.xlsx" and lead["origem_aba"] == "Leads"
    assert lead["ingest_job_id"] is not None and lead["linha_planilha"] >= 2


def test_reimport_is_idempotent(conn, database_url, tenant, sheet) -> None:
    first = ingest(conn, database_url, tenant["id"], sheet)
    before = snapshot(conn, tenant["id"])
    second = ingest(conn, database_url, tenant["id"], sheet)
    assert second["status"] == "concluido"
    assert second["leads_criados"] == 0
    assert second["leads_atualizados"] == first["leads_criados"]
    assert second["telefones_criados"] == 0 and second["emails_criados"] == 0
    assert snapshot(conn, tenant["id"]) == before


def test_reimport_unions_contacts_and_keeps_principal(conn, database_url, tenant, tmp_path) -> None:
    a = write_xlsx(
        tmp_path / "a.xlsx",
        [
            ["id", "nome", "contato", "telefone", "email"],
            ["L1", "Velho", "Ana", "11 98765-4321", "a@x.com"],
            ["L2", "B", None, None, None],
        ],
    )
    b = write_xlsx(
        tmp_path / "b.xlsx",
        [
            ["id", "nome", "telefone", "email"],
            ["L1", "Novo", "11 3333-4444 / 11 98765-4321", "b@x.com"],
            ["L3", "C", "21 2222-3333", None],
            ["L2", "B2", "11 2222-3333", None],
        ],
    )
    ingest(conn, database_url, tenant["id"], a)
    doc = ingest(conn, database_url, tenant["id"], b)
    assert (doc["leads_criados"], doc["leads_atualizados"]) == (1, 2)
    assert (doc["telefones_criados"], doc["emails_criados"]) == (3, 1)  # only the new ones
    snap = snapshot(conn, tenant["id"])
    assert ("L1", "Novo", "Ana", None, None) in snap["leads"]  # contato kept when the new sheet has none
    assert ("L1", "+5511987654321", True, "celular") in snap["tel"]
    assert ("L1", "+551133334444", False, "fixo") in snap["tel"]
    assert ("L2", "+551122223333", True, "fixo") in snap["tel"]  # had no phone: the new one is principal
    assert ("L1", "a@x.com", True) in snap["email"] and ("L1", "b@x.com", False) in snap["email"]


def test_rejects_lines_columns_and_duplicates(conn, database_url, tenant, other_tenant, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx",
        [
            ["ID", "Razão Social", "Telefone"],
            ["A", "Alfa", "11 98765-4321"],  # line 2
            [None, "Sem id", None],  # line 3
            ["B", None, None],  # line 4
            [None, None, None],  # line 5: blank, skipped silently
            ["A", "Alfa de novo", None],  # line 6: duplicate of line 2
            ["C", "Gama", None],  # line 7
            ["A", "Alfa 3", None],  # line 8: duplicate of line 2
        ],
    )
    doc = ingest(conn, database_url, tenant["id"], path)
    assert doc["status"] == "concluido"
    assert doc["leads_criados"] == 2 and doc["linhas_rejeitadas"] == 4
    assert doc["avisos"]["linhas_em_branco"] == 1
    rows, total = list_rejects(conn, tenant["id"], doc["job_id"], limit=10, offset=0)
    assert total == 4
    assert [(r["linha"], r["coluna"]) for r in rows] == [
        (3, "lead_id_externo"), (4, "nome"), (6, "lead_id_externo"), (8, "lead_id_externo"),
    ]  # fmt: skip
    assert rows[2]["motivo"] == "lead_id_externo duplicado no arquivo (primeira ocorrência na linha 2)"
    assert rows[2]["valores"] == {"ID": "A", "Razão Social": "Alfa de novo", "Telefone": None}
    page, total = list_rejects(conn, tenant["id"], doc["job_id"], limit=2, offset=2)
    assert [r["linha"] for r in page] == [6, 8] and total == 4
    summary = {e["motivo"]: e for e in doc["erros"]}
    assert summary["lead_id_externo duplicado no arquivo"]["quantidade"] == 2
    assert summary["lead_id_externo duplicado no arquivo"]["primeiras_linhas"] == [6, 8]
    csv_text = rejects_csv(conn, tenant["id"], doc["job_id"])
    lines = csv_text.strip().splitlines()
    assert lines[0] == "linha,coluna,motivo,valores" and len(lines) == 5
    assert lines[1].startswith("3,lead_id_externo,lead_id_externo ausente,")
    # Another tenant sees none of it.
    for call in (
        lambda: job_document(conn, other_tenant["id"], doc["job_id"]),
        lambda: list_rejects(conn, other_tenant["id"], doc["job_id"], limit=10, offset=0),
        lambda: rejects_csv(conn, other_tenant["id"], doc["job_id"]),
        lambda: job_document(conn, tenant["id"], "not-a-uuid"),
    ):
        with pytest.raises(NotFoundError):
            call()


def _count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def test_chunked_load_matches_the_whole_file(conn, database_url, tenant, sheet, monkeypatch) -> None:
    """Normalized and loaded in chunks of 97 leads (overlapping the database): the same counts, warnings and
    rows as the file prepared in one piece."""
    whole = prepare(read_sheet(sheet))
    monkeypatch.setattr(load, "CHUNK_ROWS", 97)
    doc = ingest(conn, database_url, tenant["id"], sheet)
    assert doc["status"] == "concluido", doc["mensagem_erro"]
    assert (doc["leads_criados"], doc["telefones_criados"], doc["emails_criados"]) == (
        whole.leads.height, whole.phones.height, whole.emails.height,
    )  # fmt: skip
    assert {k: v for k, v in doc["avisos"].items() if k != "duracao_s"} == whole.avisos
    assert doc["erros"] == whole.erros_resumo()
    principal = conn.execute(
        "SELECT l.lead_id_externo, t.telefone FROM lead_telefones t JOIN leads l USING (lead_id) "
        "WHERE t.telefone_principal ORDER BY 1"
    ).fetchall()
    expected = (
        whole.phones.filter("principal")
        .join(whole.leads.select("linha", "lead_id_externo"), on="linha")
        .sort("lead_id_externo")
        .select("lead_id_externo", "telefone")
        .rows()
    )
    assert [(r["lead_id_externo"], r["telefone"]) for r in principal] == expected


def test_first_lines_load_while_the_rest_is_validated(
    conn, database_url, tenant, tmp_path, monkeypatch
) -> None:
    """The first 7 lines are validated alone and loaded first; a later line repeating one of their ids is
    still the duplicate, and an id whose first line was rejected belongs to its first surviving line."""
    header = ["ID", "Razão Social", "Telefone"]
    rows = [[f"L{i}", f"Empresa {i}", f"(11) 9{i:04d}-0000"] for i in range(1, 31)]
    rows[7][1] = None  # line 9: no nome, rejected; its id L8 comes back on line 20
    rows[18][0] = "L8"
    rows[24][0] = "L3"  # line 26 repeats line 4 (inside the first 10 lines)
    rows[26][0] = "L8"  # line 28 repeats line 20, both after the boundary
    rows[27][0] = "L1"  # line 29 repeats line 2
    sheet = write_xlsx(tmp_path / "Leads.xlsx", [header, *rows])
    whole = prepare(read_sheet(sheet))
    monkeypatch.setattr(load, "FIRST_CHUNK_ROWS", 7)
    monkeypatch.setattr(load, "CHUNK_ROWS", 10)
    doc = ingest(conn, database_url, tenant["id"], sheet)
    assert doc["status"] == "concluido", doc["mensagem_erro"]
    assert doc["leads_criados"] == whole.leads.height == 26
    assert doc["linhas_rejeitadas"] == 4 and doc["erros"] == whole.erros_resumo()
    loaded = conn.execute(
        "SELECT lead_id_externo, linha_planilha FROM leads WHERE tenant_id = %s ORDER BY linha_planilha",
        (tenant["id"],),
    ).fetchall()
    assert [(r["lead_id_externo"], r["linha_planilha"]) for r in loaded] == whole.leads.select(
        "lead_id_externo", "linha"
    ).rows()
    assert ("L8", 20) in [(r["lead_id_externo"], r["linha_planilha"]) for r in loaded]
    rejected = conn.execute(
        "SELECT linha, motivo FROM ingest_rejeicoes WHERE job_id = %s ORDER BY linha", (doc["job_id"],)
    ).fetchall()
    assert [r["linha"] for r in rejected] == [9, 26, 28, 29]
    assert ["linha 4" in rejected[1]["motivo"], "linha 20" in rejected[2]["motivo"]] == [True, True]
    assert "primeira ocorrência na linha 2" in rejected[3]["motivo"]


def test_failure_after_copy_rolls_back_everything(conn, database_url, tenant, sheet, monkeypatch) -> None:
    """Fail in the second chunk, after its COPY and after the first chunk's upserts ran: nothing remains."""
    monkeypatch.setattr(load, "CHUNK_ROWS", 100)
    calls = {"n": 0}

    def boom(_conn: psycopg.Connection) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("falha injetada depois do COPY")

    monkeypatch.setattr(load, "after_copy", boom)
    doc = ingest(conn, database_url, tenant["id"], sheet)
    assert calls["n"] == 2
    assert doc["status"] == "erro"
    assert "falha injetada depois do COPY" in doc["mensagem_erro"]
    assert doc["leads_criados"] == 0 and doc["concluido_em"]
    for table in ("leads", "lead_telefones", "lead_emails", "ingest_rejeicoes"):
        assert _count(conn, table) == 0, table


def test_database_failure_rolls_back_and_marks_erro(conn, database_url, tenant, sheet) -> None:
    """A real database error (a trigger rejecting e-mails, i.e. after leads and phones were written)."""
    conn.execute(
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disco cheio'; END $$"
    )
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON lead_emails FOR EACH ROW EXECUTE FUNCTION boom()")
    doc = ingest(conn, database_url, tenant["id"], sheet)
    assert doc["status"] == "erro" and "disco cheio" in doc["mensagem_erro"]
    for table in ("leads", "lead_telefones", "lead_emails", "ingest_rejeicoes"):
        assert _count(conn, table) == 0, table
    conn.execute("DROP TRIGGER boom ON lead_emails")
    again = run_job(database_url, doc["job_id"])  # the same job can be re-run once fixed
    assert again["status"] == "concluido" and again["mensagem_erro"] is None and again["leads_criados"] > 0


def test_csv_latin1_semicolon(conn, database_url, tenant, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(
        "Código;Razão Social;Celular;E-mail\n7;Padaria São João;(11) 98765-4321 ou (11) 3333-4444;joão@padaria.com.br\n".encode(
            "latin-1"
        )
    )
    doc = ingest(conn, database_url, tenant["id"], path)
    assert doc["status"] == "concluido" and doc["leads_criados"] == 1 and doc["telefones_criados"] == 2
    snap = snapshot(conn, tenant["id"])
    assert snap["leads"] == [("7", "Padaria São João", None, None, None)]
    assert snap["email"] == [("7", "joão@padaria.com.br", True)]


@pytest.mark.parametrize(
    ("rows", "sheet_name", "aba", "message"),
    [
        ([["ID", "Nome"], [1, "A"]], "Planilha1", "Leads", "abas existentes: 'Planilha1'"),
        ([["ID", "Telefone"], [1, "11987654321"]], "Leads", "Leads", "coluna de nome"),
    ],
)
def test_bad_sheets_end_in_erro_with_nothing_written(
    conn, database_url, tenant, tmp_path, rows, sheet_name, aba, message
) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", rows, sheet=sheet_name)
    doc = ingest(conn, database_url, tenant["id"], path, aba=aba)
    assert doc["status"] == "erro" and message in doc["mensagem_erro"]
    assert _count(conn, "leads") == 0


def test_corrupt_file(conn, database_url, tenant, tmp_path) -> None:
    path = tmp_path / "quebrado.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    doc = ingest(conn, database_url, tenant["id"], path)
    assert doc["status"] == "erro" and "quebrado.xlsx" in doc["mensagem_erro"]


def test_progress_visible_from_another_connection(conn, database_url, tenant, sheet, monkeypatch) -> None:
    monkeypatch.setattr(load, "CHUNK_ROWS", 150)
    job_id = create_job(conn, tenant["id"], sheet.name, str(sheet), origem="api")
    seen: list[tuple[str, int, int]] = []

    def progress(done: int, total: int) -> None:
        with connect(database_url, autocommit=True) as other:
            row = other.execute(
                "SELECT status, linhas_processadas, linhas_total FROM ingest_jobs WHERE job_id = %s",
                (job_id,),
            ).fetchone()
            seen.append((row["status"], row["linhas_processadas"], done))

    doc = run_job(database_url, job_id, progress=progress)
    assert doc["status"] == "concluido"
    during = [s for s in seen if s[0] == "processando"]
    assert len(during) >= 3  # start + at least two chunks, each committed before the load commits
    assert [s[1] for s in during] == [s[2] for s in during]
    assert during[1][1] > 0 and during[-1][1] > during[1][1]


def test_job_lifecycle_and_validation(conn, database_url, tenant, sheet) -> None:
    job_id = create_job(conn, tenant["id"], sheet.name, str(sheet), origem="inbox", arquivo_sha256="ab" * 32)
    doc = job_document(conn, tenant["id"], job_id)
    assert doc["status"] == "pendente" and doc["linhas_processadas"] == 0 and doc["origem"] == "inbox"
    conn.execute("UPDATE ingest_jobs SET status = 'processando' WHERE job_id = %s", (job_id,))
    with pytest.raises(ConflictError):
        run_job(database_url, job_id)
    assert run_job(database_url, job_id, force=True)["status"] == "concluido"
    with pytest.raises(NotFoundError):
        run_job(database_url, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValidationError):
        create_job(conn, tenant["id"], "a.xlsx", "/x", origem="email")
    with pytest.raises(ValidationError):
        create_job(conn, tenant["id"], "a.xlsx", "/x", aba=" ")


def test_concurrent_jobs_of_two_tenants(conn, database_url, tenant, other_tenant, sheet) -> None:
    ids = [create_job(conn, t["id"], sheet.name, str(sheet)) for t in (tenant, other_tenant)]
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda j=j: results.append(run_job(database_url, j))) for j in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["status"] for r in results] == ["concluido", "concluido"]
    assert results[0]["leads_criados"] == results[1]["leads_criados"] > 0
