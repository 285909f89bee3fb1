"""Pure helpers of the ingest surfaces: file-type checks, partition keys, inline switch, inbox names."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipelines.core.common.errors import NotFoundError, ValidationError
from pipelines.core.common.settings import Settings
from pipelines.core.ingest.surfaces import (
    UnsupportedMediaTypeError,
    check_filename,
    inline_enabled,
    is_partial_name,
    job_id_from_partition_key,
    partition_key,
    resolve_tenant_file,
    sniff,
)


def test_check_filename_keeps_the_bare_name_and_refuses_other_types() -> None:
    assert check_filename("C:\\Users\\ana\\Leads.XLSX") == "Leads.XLSX"
    assert check_filename("/tmp/x/planilha.csv") == "planilha.csv"
    for hostile in (
        "../x/planilha.csv",
        "..\\..\\planilha.xlsx",
        "a/../../b.xlsx",
        "nul\x00.xlsx",
        "a\nb.csv",
    ):
        with pytest.raises(ValidationError, match="nome de arquivo inválido"):
            check_filename(hostile)
    with pytest.raises(UnsupportedMediaTypeError) as err:
        check_filename("foto.png")
    assert err.value.status_code == 415
    with pytest.raises(ValidationError):
        check_filename("")


@pytest.mark.parametrize(
    ("head", "name", "ok"),
    [
        (b"PK\x03\x04abcd", "a.xlsx", True),
        (b"PK\x03\x04abcd", "a.ods", True),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a.xls", True),
        (b"id;nome\n", "a.csv", True),
        (b"<html>", "a.xlsx", False),
        (b"id;nome", "a.xls", False),
        (b"\x00\x01\x02", "a.csv", False),
        (b"", "a.csv", False),
    ],
)
def test_sniff(head: bytes, name: str, ok: bool) -> None:
    if ok:
        sniff(head, name)
    else:
        with pytest.raises(ValidationError):
            sniff(head, name)


def test_partition_key_round_trip() -> None:
    job_id = uuid.uuid4()
    key = partition_key("acme", "Leads – Março 2026.XLSX", job_id)
    assert key == f"acme/leads-marco-2026/{job_id}"
    assert job_id_from_partition_key(key) == job_id
    assert (
        partition_key("acme", "Leads Organizados (Março).xlsx", job_id)
        == f"acme/leads-organizados-marco/{job_id}"
    )
    assert partition_key("acme", "!!!.csv", job_id) == f"acme/arquivo/{job_id}"
    with pytest.raises(ValidationError):
        job_id_from_partition_key("acme/leads/nao-e-uuid")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ("1", True),
        ("true", True),
        ("0", False),
        ("false", False),
        ("dagster", False),
    ],
)
def test_inline_switch(value: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPARO_AGENDA_INGEST_INLINE", raising=False)
    if value is not None:
        monkeypatch.setenv("DISPARO_AGENDA_INGEST_INLINE", value)
    assert inline_enabled() is expected
    assert inline_enabled("0") is False and inline_enabled("1") is True  # per-request override wins


@pytest.mark.parametrize(
    ("name", "partial"),
    [("Leads.xlsx", False), ("~$Leads.xlsx", True), (".~lock.Leads.xlsx#", True), (".oculto.csv", True),
     ("Leads.xlsx.part", True), ("Leads.xlsx.crdownload", True), ("dados.tmp", True)],
)  # fmt: skip
def test_partial_names(name: str, partial: bool) -> None:
    assert is_partial_name(name) is partial


def test_resolve_tenant_file_stays_inside_the_tenant_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    settings = Settings.from_env()
    (settings.inbox_dir / "acme" / "sub").mkdir(parents=True)
    (settings.inbox_dir / "outra").mkdir(parents=True)
    (settings.inbox_dir / "acme" / "sub" / "a.csv").write_text("id,nome\n")
    (settings.inbox_dir / "outra" / "b.csv").write_text("id,nome\n")
    assert resolve_tenant_file(settings, "acme", "sub/a.csv").name == "a.csv"
    with pytest.raises(ValidationError):
        resolve_tenant_file(settings, "acme", "../outra/b.csv")
    with pytest.raises(ValidationError):
        resolve_tenant_file(settings, "acme", str(settings.inbox_dir / "outra" / "b.csv"))
    (settings.inbox_dir / "acme" / "link.csv").symlink_to(settings.inbox_dir / "outra" / "b.csv")
    with pytest.raises(NotFoundError):  # a symlink out of the folder is not followed
        resolve_tenant_file(settings, "acme", "link.csv")
