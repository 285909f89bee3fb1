"""POST /ingest/leads/xlsx and the job/rejects endpoints over the real app, database and file store.
The default (inline) mode runs the job in the API process, so these tests see it finish."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pipelines.core.ingest.surfaces import INLINE_ENV

ROWS = [
    ["1", "Alfa Comércio Ltda", "11 98765-4321", "contato@alfa.com.br"],
    ["2", "Beta Serviços", "(21) 3333-4444 / 21 99999-8888", ""],
    ["3", "", "11 91234-5678", "sem@nome.com"],  # no nome: rejected
    ["4", "Delta ME", "", "delta@delta.com.br; financeiro@delta.com.br"],
]


def _xlsx(rows: list[list[str]] = ROWS, sheet: str = "Leads") -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["id", "nome", "telefone", "email"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    monkeypatch.delenv(INLINE_ENV, raising=False)
    return tmp_path


def _wait(api_client, headers: dict[str, str], job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = api_client.get(f"/ingest/leads/jobs/{job_id}", headers=headers).json()
        if doc["status"] in ("concluido", "erro") or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def _upload(api_client, headers, content: bytes, name: str = "Leads_Organizados.xlsx", **params: str):
    return api_client.post(
        "/ingest/leads/xlsx",
        files={"file": (name, content, "application/octet-stream")},
        params=params,
        headers=headers,
    )


def test_upload_runs_to_concluido_with_counts_and_rejects(api_client, tenant, other_tenant) -> None:
    r = _upload(api_client, tenant["headers"], _xlsx())
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["execucao"] == "inline"
    assert r.headers["location"] == f"/ingest/leads/jobs/{body['job_id']}"

    doc = _wait(api_client, tenant["headers"], body["job_id"])
    assert doc["status"] == "concluido", doc
    assert doc["leads_criados"] == 3 and doc["linhas_rejeitadas"] == 1
    assert doc["linhas_processadas"] == 4
    assert doc["telefones_criados"] == 3 and doc["emails_criados"] == 3

    page = api_client.get(f"/ingest/leads/jobs/{body['job_id']}/rejeicoes", headers=tenant["headers"])
    assert page.status_code == 200
    assert page.json()["total"] == 1 and page.json()["items"][0]["linha"] == 4  # header is line 1

    for kwargs in ({"params": {"formato": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        headers = {**tenant["headers"], **kwargs.get("headers", {})}
        csv = api_client.get(
            f"/ingest/leads/jobs/{body['job_id']}/rejeicoes", params=kwargs.get("params"), headers=headers
        )
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        lines = csv.text.strip().splitlines()
        assert len(lines) == 2 and "4" in lines[1]

    # The leads are visible through the lead API; the other tenant sees none of this.
    assert api_client.get("/leads", headers=tenant["headers"]).json()["total"] == 3
    assert api_client.get("/leads", headers=other_tenant["headers"]).json()["total"] == 0
    for path in (f"/ingest/leads/jobs/{body['job_id']}", f"/ingest/leads/jobs/{body['job_id']}/rejeicoes"):
        r = api_client.get(path, headers=other_tenant["headers"])
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_unknown_job_is_404(api_client, tenant) -> None:
    for job_id in (uuid.uuid4(),):
        assert api_client.get(f"/ingest/leads/jobs/{job_id}", headers=tenant["headers"]).status_code == 404
        assert (
            api_client.get(f"/ingest/leads/jobs/{job_id}/rejeicoes", headers=tenant["headers"]).status_code
            == 404
        )


def test_too_large_is_413_also_when_chunked(api_client, tenant, monkeypatch, conn) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_MAX_UPLOAD_MB", "1")
    big = b"id;nome\n" + b"1;x\n" * 300_000  # ~1.2 MB
    r = _upload(api_client, tenant["headers"], big, name="grande.csv")
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")

    boundary = "limite123"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="grande.csv"\r\n\r\n'.encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():  # no Content-Length: the limit must hold while streaming
        yield head
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]
        yield tail

    r = api_client.post(
        "/ingest/leads/xlsx",
        content=chunks(),
        headers={**tenant["headers"], "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 0  # nothing half-created


def test_wrong_type_is_415(api_client, tenant, conn) -> None:
    r = _upload(api_client, tenant["headers"], b"\x89PNG\r\n\x1a\n....", name="foto.png")
    assert r.status_code == 415 and "xlsx" in r.json()["detail"]
    r = api_client.post(
        "/ingest/leads/xlsx", content=b"id,nome", headers={**tenant["headers"], "Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 0


def test_corrupt_files(api_client, tenant) -> None:
    # Not a zip at all: refused up front.
    r = _upload(api_client, tenant["headers"], b"isto nao e uma planilha", name="Leads.xlsx")
    assert r.status_code == 422 and "corrompido" in r.json()["detail"]
    # Looks like a zip but is not a workbook: accepted, and the job ends `erro` with a message.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("leia-me.txt", "nada aqui")
    r = _upload(api_client, tenant["headers"], buf.getvalue(), name="Leads.xlsx")
    assert r.status_code == 202
    doc = _wait(api_client, tenant["headers"], r.json()["job_id"])
    assert doc["status"] == "erro" and doc["mensagem_erro"]


def test_missing_file_field_and_auth(api_client, tenant) -> None:
    r = api_client.post("/ingest/leads/xlsx", files={"outro": ("a.xlsx", _xlsx())}, headers=tenant["headers"])
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert api_client.post("/ingest/leads/xlsx", files={"file": ("a.xlsx", _xlsx())}).status_code == 401


def test_json_naming_inbox_file_waits_for_dagster(api_client, tenant, conn, _home) -> None:
    inbox = _home / "inbox" / "acme"
    inbox.mkdir(parents=True)
    (inbox / "Leads.xlsx").write_bytes(_xlsx())
    r = api_client.post(
        "/ingest/leads/xlsx",
        json={"bucket": "qualquer", "key": "Leads.xlsx"},
        params={"execucao": "dagster"},
        headers=tenant["headers"],
    )
    assert r.status_code == 202 and r.json()["execucao"] == "dagster"
    job = conn.execute("SELECT * FROM ingest_jobs WHERE job_id = %s", (r.json()["job_id"],)).fetchone()
    assert job["status"] == "pendente" and job["origem"] == "api" and job["arquivo_origem"] == "Leads.xlsx"
    assert Path(job["arquivo_path"]).is_file()
    assert not (inbox / "Leads.xlsx").exists()  # moved aside so the drop sensor will not take it too
    assert len(list((inbox / "processados").glob("*_Leads.xlsx"))) == 1

    # The same stored content again, by hash, and run inline this time.
    r = api_client.post(
        "/ingest/leads/xlsx", json={"arquivo_sha256": job["arquivo_sha256"]}, headers=tenant["headers"]
    )
    assert r.status_code == 202
    assert _wait(api_client, tenant["headers"], r.json()["job_id"])["status"] == "concluido"


def test_json_reference_errors(api_client, tenant) -> None:
    cases = [
        ({"arquivo": "../../etc/passwd"}, 422),
        ({"arquivo": "/etc/passwd"}, 422),
        ({"arquivo": "nao-existe.xlsx"}, 404),
        ({"arquivo_sha256": "0" * 64}, 404),
        ({}, 422),
        ({"arquivo": "x.xlsx", "inesperado": 1}, 422),
    ]
    for body, status in cases:
        r = api_client.post("/ingest/leads/xlsx", json=body, headers=tenant["headers"])
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_other_tenant_cannot_reuse_a_hash(api_client, tenant, other_tenant) -> None:
    r = _upload(api_client, tenant["headers"], _xlsx(), execucao="dagster")
    sha = r.json()["arquivo_sha256"]
    r = api_client.post("/ingest/leads/xlsx", json={"arquivo_sha256": sha}, headers=other_tenant["headers"])
    assert r.status_code == 404


def test_path_traversal_file_name_is_refused_and_nothing_is_written(
    api_client, tenant, conn, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    for name in ("../../../etc/cron.d/leads.xlsx", "..\\..\\leads.xlsx", "a/../../leads.xlsx"):
        r = _upload(api_client, tenant["headers"], _xlsx(), name=name)
        assert r.status_code == 422, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "nome de arquivo inválido" in r.json()["detail"]
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 0
    written = (
        [p for p in (tmp_path / "home").rglob("*") if p.is_file()] if (tmp_path / "home").exists() else []
    )
    assert [p for p in written if "arquivos" in p.parts] == []
