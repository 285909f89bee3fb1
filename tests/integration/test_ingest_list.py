"""Ingest jobs are found however they were started: `GET /ingest/leads/jobs` and `disparo-agenda ingest
list`, filtered by status, paginated, one tenant's only (the CLI may list every tenant's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.core.ingest import create_job


@pytest.fixture
def jobs(conn, tenant, other_tenant) -> dict[str, str]:
    """One job of each origin for acme (the dagster one failed), one for the other tenant."""
    made = {}
    for origem in ("cli", "api", "inbox", "dagster"):
        made[origem] = str(
            create_job(conn, tenant["id"], f"{origem}.xlsx", f"/x/{origem}.xlsx", origem=origem)
        )
    conn.execute(
        "UPDATE ingest_jobs SET status = 'erro', mensagem_erro = 'planilha sem a aba Leads' WHERE job_id = %s",
        (made["dagster"],),
    )
    made["outra"] = str(create_job(conn, other_tenant["id"], "outra.xlsx", "/x/outra.xlsx", origem="api"))
    return made


def test_api_lists_the_tenants_jobs_of_every_origin(api_client, tenant, jobs) -> None:
    r = api_client.get("/ingest/leads/jobs", headers=tenant["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 4 and {d["origem"] for d in body["items"]} == {"cli", "api", "inbox", "dagster"}
    assert jobs["outra"] not in {d["job_id"] for d in body["items"]}
    by_id = {d["job_id"]: d for d in body["items"]}
    single = api_client.get(f"/ingest/leads/jobs/{jobs['inbox']}", headers=tenant["headers"]).json()
    assert by_id[jobs["inbox"]] == single  # each item is the job document

    r = api_client.get("/ingest/leads/jobs?status=erro", headers=tenant["headers"])
    (failed,) = r.json()["items"]
    assert failed["job_id"] == jobs["dagster"] and failed["mensagem_erro"] == "planilha sem a aba Leads"

    first = api_client.get("/ingest/leads/jobs?limit=3", headers=tenant["headers"]).json()
    rest = api_client.get("/ingest/leads/jobs?limit=3&offset=3", headers=tenant["headers"]).json()
    assert len(first["items"]) == 3 and len(rest["items"]) == 1 and rest["total"] == 4
    assert {d["job_id"] for d in first["items"] + rest["items"]} == set(jobs.values()) - {jobs["outra"]}

    bad = api_client.get("/ingest/leads/jobs?status=feito", headers=tenant["headers"])
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_cli_lists_jobs_of_one_tenant_or_all(cli, tenant, jobs) -> None:
    code, out, err = cli("ingest", "list", "--tenant", "acme", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["total"] == 4 and "tenant" not in listed["items"][0]

    code, out, _ = cli("ingest", "list", "--status", "erro")
    assert code == 0 and jobs["dagster"] in out and "erro: planilha sem a aba Leads" in out
    assert jobs["cli"] not in out

    code, out, _ = cli("ingest", "list", "--json")  # every tenant's, each with its slug
    items = json.loads(out)["items"]
    assert {(d["tenant"], d["job_id"]) for d in items} >= {("outra", jobs["outra"]), ("acme", jobs["cli"])}

    code, _, err = cli("ingest", "list", "--tenant", "nao-existe")
    assert code != 0 and err.startswith("erro: tenant desconhecido")
    code, _, err = cli("ingest", "list", "--limit", "0")
    assert code != 0 and err.startswith("erro: limit")


def test_cli_ingest_still_needs_a_tenant(cli, database_url, tmp_path: Path) -> None:
    code, _, err = cli("ingest", str(tmp_path / "x.xlsx"))
    assert code != 0 and err.startswith("erro: informe o tenant")


def test_tenant_create_makes_the_inbox_folder(cli, database_url, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    code, out, err = cli("tenant", "create", "loja")
    assert code == 0, err
    assert (tmp_path / "inbox" / "loja").is_dir() and str(tmp_path / "inbox" / "loja") in out
