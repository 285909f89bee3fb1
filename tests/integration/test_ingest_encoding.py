"""Mixed encodings: a UTF-8 CSV with a few invalid bytes keeps UTF-8 on every other line, reads the bad
lines as CP1252 and says which lines they were; a CP1252 file is still read as CP1252."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.ingest.reader import decode_text


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_decode_text_per_line() -> None:
    assert decode_text("id;nome\n1;João\n".encode()) == ("id;nome\n1;João\n", [])
    assert decode_text("id;nome\n1;João\n".encode("cp1252")) == ("id;nome\n1;João\n", [])
    mixed = "id;nome\n1;João\n".encode() + "2;Conceição\n".encode("cp1252") + "3;Ação\n".encode()
    assert decode_text(mixed) == ("id;nome\n1;João\n2;Conceição\n3;Ação\n", [3])
    bom = b"\xef\xbb\xbf" + mixed
    assert decode_text(bom) == ("id;nome\n1;João\n2;Conceição\n3;Ação\n", [3])


def test_mixed_csv_ingests_without_garbling_and_warns(cli, conn, tenant, home, tmp_path) -> None:
    path = tmp_path / "misto.csv"
    lines = [("id;nome;telefone", "utf-8"), ("1;João Peças;11999990001", "utf-8"),
             ("2;Conceição Ltda;11999990002", "cp1252"), ("3;Açaí São Tomé;11999990003", "utf-8"),
             ("4;Irmãos Araújo;11999990004", "cp1252"), ("5;Ótica Ímpar;11999990005", "utf-8")]  # fmt: skip
    path.write_bytes(b"".join((text + "\n").encode(enc) for text, enc in lines))
    code, out, err = cli("ingest", str(path), "--tenant", "acme")
    assert code == 0, err
    assert "aviso: 2 linha(s) não eram UTF-8" in err and "(linhas 3, 5)" in err
    names = {r["nome"] for r in conn.execute("SELECT nome FROM leads").fetchall()}
    assert names == {"João Peças", "Conceição Ltda", "Açaí São Tomé", "Irmãos Araújo", "Ótica Ímpar"}
    avisos = conn.execute("SELECT avisos FROM ingest_jobs").fetchone()["avisos"]
    assert avisos["linhas_fora_de_utf8"] == 2 and avisos["linhas_fora_de_utf8_primeiras"] == [3, 5]


def test_cp1252_csv_is_still_read_as_cp1252(cli, conn, tenant, home, tmp_path) -> None:
    path = tmp_path / "antigo.csv"
    path.write_bytes("id;nome;telefone\n1;João Peças;11999990001\n2;Conceição;11999990002\n".encode("cp1252"))
    code, _, err = cli("ingest", str(path), "--tenant", "acme")
    assert code == 0 and "aviso" not in err, err
    assert {r["nome"] for r in conn.execute("SELECT nome FROM leads").fetchall()} == {
        "João Peças",
        "Conceição",
    }
    assert "linhas_fora_de_utf8" not in conn.execute("SELECT avisos FROM ingest_jobs").fetchone()["avisos"]
