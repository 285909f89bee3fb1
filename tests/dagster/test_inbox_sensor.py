"""The inbox sensor over a real database and a temporary inbox: one tick takes a finished file (run key =
content hash, the job's partition added, the run ingests it), never takes content twice, and its skip
reason tells the truth about what it left alone."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import dagster as dg
import pytest

import sensors.ingest
from pipelines.core.ingest.surfaces import PARTITIONS_NAME
from pipelines.dagster_common import INGEST_JOB_TAG, KIND_TAG, SOURCE_TAG
from sensors.ingest import inbox_ingest_sensor
from tests.dagster.test_ingest_dagster import _materialize, _meta, _xlsx


@pytest.fixture(autouse=True)
def short_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensors.ingest, "INBOX_WATCH_S", 1.5)  # > the 1 s stability window


def _drop(home: Path, slug: str, name: str, content: bytes, age: float = 10) -> Path:
    path = home / "inbox" / slug / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def _tick(instance, resources, cursor: str | None = None) -> dg.SensorResult:
    return inbox_ingest_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))


def test_one_tick_takes_a_finished_file_and_never_takes_its_content_twice(
    conn, tenant, home, resources, instance
) -> None:
    content = _xlsx()
    _drop(home, "acme", "Leads.xlsx", content, age=0)  # just finished
    _drop(home, "acme", "~$Leads.xlsx", b"lock")  # Excel's lock file: ignored

    first = _tick(instance, resources)
    (req,) = first.run_requests
    sha = hashlib.sha256(content).hexdigest()
    job = conn.execute("SELECT job_id, origem, status, arquivo_sha256 FROM ingest_jobs").fetchone()
    assert (job["origem"], job["status"], job["arquivo_sha256"]) == ("inbox", "pendente", sha)
    assert req.run_key == f"inbox/acme/{sha}" and req.partition_key == f"acme/leads/{job['job_id']}"
    assert req.tags[KIND_TAG] == "ingest" and req.tags[SOURCE_TAG] == "inbox"
    assert req.tags[INGEST_JOB_TAG] == str(job["job_id"])
    (add,) = first.dynamic_partitions_requests
    assert add.partitions_def_name == PARTITIONS_NAME and list(add.partition_keys) == [req.partition_key]
    assert not (home / "inbox" / "acme" / "Leads.xlsx").exists()
    assert len(list((home / "inbox" / "acme" / "processados").iterdir())) == 1

    # The same content dropped again (another name) is moved aside without a new job or run.
    _drop(home, "acme", "Leads (1).xlsx", content)
    again = _tick(instance, resources, first.cursor)
    assert not again.run_requests and "já ingerido" in again.skip_reason.skip_message
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 1
    assert len(list((home / "inbox" / "acme" / "processados").iterdir())) == 2

    # The run the sensor asked for ingests that job.
    result = _materialize(req.partition_key, instance, resources, **req.tags)
    assert result.success and _meta(result)["leads_criados"] == 3


def test_skip_reasons_say_what_was_left_alone(conn, tenant, home, resources, instance) -> None:
    _drop(home, "ninguem", "Leads.xlsx", _xlsx())
    result = _tick(instance, resources)
    assert not result.run_requests
    assert "tenant 'ninguem' não existe" in result.skip_reason.skip_message
    assert (home / "inbox" / "ninguem" / "Leads.xlsx").exists()

    _drop(home, "acme", "Cortado.xlsx", _xlsx()[:200])  # a copy cut short
    result = _tick(instance, resources, result.cursor)
    assert "acme/Cortado.xlsx: incompleto" in result.skip_reason.skip_message


def test_non_spreadsheets_go_to_erro_with_the_reason(conn, tenant, home, resources, instance) -> None:
    _drop(home, "acme", "notas.txt", b"oi")
    _drop(home, "acme", "falso.xlsx", b"nao sou zip")
    _drop(home, "acme", "vazio.csv", b"", age=120)
    result = _tick(instance, resources)
    assert not result.run_requests and "erro/" in result.skip_reason.skip_message
    moved = sorted(p.name for p in (home / "inbox" / "acme" / "erro").iterdir())
    assert any(n.endswith("_notas.txt") for n in moved)
    assert any(n.endswith("_notas.txt.motivo.txt") for n in moved)
    assert any(n.endswith("_falso.xlsx") for n in moved)
    assert any(n.endswith("_vazio.csv") for n in moved)
    assert conn.execute("SELECT count(*) AS n FROM ingest_jobs").fetchone()["n"] == 0
