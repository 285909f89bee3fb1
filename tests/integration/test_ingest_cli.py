"""`disparo-agenda ingest` through the real CLI entry point and a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.sample_sheet import generate


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_ingest_json_and_store(cli, tenant, home, tmp_path, conn) -> None:
    path = generate(tmp_path / "leads.xlsx", 250, seed=1)
    code, out, err = cli("ingest", str(path), "--tenant", "acme", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (
        doc["status"] == "concluido" and doc["leads_criados"] > 200 and doc["arquivo_origem"] == "leads.xlsx"
    )
    assert "100%" in err and "linhas" in err  # the progress bar went to stderr
    stored = list((home / "arquivos").rglob("*.xlsx"))
    assert len(stored) == 1
    row = conn.execute("SELECT arquivo_path, arquivo_sha256, origem FROM ingest_jobs").fetchone()
    assert row["arquivo_path"] == str(stored[0]) and stored[0].name.startswith(row["arquivo_sha256"])
    assert row["origem"] == "cli"

    code, out, err = cli("ingest", str(path), "--tenant", "acme")
    assert code == 0 and "0 leads criados" in out and "atualizados" in out


def test_ingest_errors(cli, tenant, home, tmp_path) -> None:
    path = generate(tmp_path / "leads.xlsx", 20, seed=2)
    code, _, err = cli("ingest", str(path), "--tenant", "nao-existe")
    assert code != 0 and err.startswith("erro: tenant desconhecido")
    code, _, err = cli("ingest", str(tmp_path / "sumiu.xlsx"), "--tenant", "acme")
    assert code != 0 and "arquivo não encontrado" in err
    code, _, err = cli("ingest", str(tmp_path / "leads.txt"), "--tenant", "acme")
    assert code != 0 and "formato não suportado" in err
    code, out, err = cli("ingest", str(path), "--tenant", "acme", "--sheet", "Vendas")
    assert code != 0 and out == ""
    assert err.strip().splitlines()[-1].startswith("erro: job ") and "abas existentes" in err
