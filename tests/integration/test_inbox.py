"""The inbox drop folder (pipelines.core.ingest.inbox): a finished file is taken within one look, a file
still being written never is, and every file left alone says why."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
from ingest_support import write_xlsx

from pipelines.core.common.settings import Settings
from pipelines.core.ingest.inbox import scan_inbox, tenant_inbox


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    return Settings.from_env()


@pytest.fixture
def sheet_bytes(tmp_path: Path) -> bytes:
    rows = [["id", "nome", "telefone"]] + [[str(i), f"Lead {i}", "11 98765-4321"] for i in range(1, 2000)]
    return write_xlsx(tmp_path / "modelo.xlsx", rows).read_bytes()


def _put(path: Path, content: bytes, age_s: float) -> Path:
    """A file written `age_s` ago (and left alone since)."""
    path.write_bytes(content)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def _jobs(conn) -> list[dict]:
    return conn.execute("SELECT arquivo_origem, arquivo_sha256, origem, status FROM ingest_jobs").fetchall()


def test_a_finished_file_is_taken_in_one_look(conn, tenant, settings, sheet_bytes) -> None:
    inbox = tenant_inbox(settings, "acme")
    (inbox / "Leads.xlsx").write_bytes(sheet_bytes)  # just written: fresh mtime, never seen before
    scan = scan_inbox(conn, settings, watch_s=3.0)
    (taken,) = scan.accepted
    assert taken.arquivo == "Leads.xlsx" and taken.sha256 == hashlib.sha256(sheet_bytes).hexdigest()
    assert [j["origem"] for j in _jobs(conn)] == ["inbox"] and not (inbox / "Leads.xlsx").exists()


def test_a_file_dropped_while_the_look_watches_is_taken_by_that_look(
    conn, tenant, settings, sheet_bytes
) -> None:
    inbox = tenant_inbox(settings, "acme")
    dropper = threading.Timer(0.5, lambda: (inbox / "Leads.xlsx").write_bytes(sheet_bytes))
    dropper.start()
    scan = scan_inbox(conn, settings, watch_s=3.0)
    dropper.join()
    assert [a.arquivo for a in scan.accepted] == ["Leads.xlsx"]


def test_a_file_being_written_is_never_taken_half_written(conn, tenant, settings, sheet_bytes) -> None:
    """A slow copy (pauses shorter than the stability window) is watched for the whole look and only the
    complete content is ever ingested."""
    inbox = tenant_inbox(settings, "acme")
    path = inbox / "Grande.xlsx"
    chunks = [
        sheet_bytes[i : i + len(sheet_bytes) // 8 + 1]
        for i in range(0, len(sheet_bytes), len(sheet_bytes) // 8 + 1)
    ]

    def slow_copy() -> None:
        with path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                out.flush()
                time.sleep(0.3)

    writer = threading.Thread(target=slow_copy)
    writer.start()
    time.sleep(0.05)
    during = scan_inbox(conn, settings, watch_s=1.5)  # ends while the copy is still going
    assert not during.accepted and "Grande.xlsx" in " ".join(during.waiting)
    assert _jobs(conn) == [] and path.exists()
    writer.join()
    after = scan_inbox(conn, settings, observed=during.observed, watch_s=3.0)
    assert [a.sha256 for a in after.accepted] == [hashlib.sha256(sheet_bytes).hexdigest()]


def test_a_copy_cut_short_is_never_taken_and_says_why(conn, tenant, settings, sheet_bytes) -> None:
    """Size and mtime stable for long, but the zip directory never arrived: not a finished file."""
    inbox = tenant_inbox(settings, "acme")
    path = _put(inbox / "Cortado.xlsx", sheet_bytes[: len(sheet_bytes) // 2], 60)
    first = scan_inbox(conn, settings, watch_s=1.3)
    second = scan_inbox(conn, settings, observed=first.observed, watch_s=0)
    assert not first.accepted and not second.accepted and path.exists() and _jobs(conn) == []
    assert "incompleto" in second.waiting["acme/Cortado.xlsx"]
    assert "acme/Cortado.xlsx: incompleto" in second.summary()


def test_a_half_written_csv_is_not_taken_while_it_grows(conn, tenant, settings) -> None:
    inbox = tenant_inbox(settings, "acme")
    path = inbox / "leads.csv"
    path.write_text("id,nome\n1,Alfa\n")
    stop = threading.Event()

    def keep_appending() -> None:
        n = 2
        while not stop.is_set():
            with path.open("a") as out:
                out.write(f"{n},Lead {n}\n")
            n += 1
            time.sleep(0.2)

    writer = threading.Thread(target=keep_appending)
    writer.start()
    try:
        scan = scan_inbox(conn, settings, watch_s=2.0)
    finally:
        stop.set()
        writer.join()
    assert not scan.accepted and _jobs(conn) == []


def test_every_file_left_alone_has_a_truthful_reason(conn, tenant, settings, sheet_bytes) -> None:
    # A folder of a tenant that does not exist: left in place, said so (not "inbox vazia").
    stranger = tenant_inbox(settings, "ninguem")
    _put(stranger / "Leads.xlsx", sheet_bytes, 30)
    scan = scan_inbox(conn, settings)
    assert "o tenant 'ninguem' não existe" in scan.summary() and (stranger / "Leads.xlsx").exists()

    # A bad file: moved to erro/ with the reason next to it.
    inbox = tenant_inbox(settings, "acme")
    _put(inbox / "notas.txt", b"oi", 30)
    scan = scan_inbox(conn, settings, watch_s=1.3)
    assert any("notas.txt" in s and "erro/" in s for s in scan.skipped)
    assert any(p.name.endswith("_notas.txt.motivo.txt") for p in (inbox / "erro").iterdir())

    # A file seen while being written, then moved away before it was taken.
    (inbox / "Movida.xlsx").write_bytes(sheet_bytes[:100])
    seen = scan_inbox(conn, settings)
    assert "acme/Movida.xlsx" in seen.observed
    (inbox / "Movida.xlsx").rename(settings.home / "Movida.xlsx")
    gone = scan_inbox(conn, settings, observed=seen.observed)
    assert any("Movida.xlsx: saiu da pasta antes de ser ingerido" in s for s in gone.skipped)

    # Nothing at all.
    for p in stranger.iterdir():
        p.unlink()
    assert scan_inbox(conn, settings).summary() == "inbox vazia"
    assert _jobs(conn) == []
