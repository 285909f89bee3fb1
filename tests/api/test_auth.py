from __future__ import annotations

from pipelines.core.tenancy.tenants import revoke_api_key


def test_health_without_auth(api_client) -> None:
    r = api_client.get("/health")
    assert r.status_code == 200 and r.json()["database"] == "ok"


def test_me_with_good_bad_and_revoked_key(api_client, conn, tenant) -> None:
    r = api_client.get("/me", headers=tenant["headers"])
    assert r.status_code == 200 and r.json()["slug"] == "acme"

    r = api_client.get("/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401

    r = api_client.get("/me", headers={"Authorization": "Bearer dak_000000000000_wrong"})
    assert r.status_code == 401

    revoke_api_key(conn, "acme", tenant["api_key"])
    r = api_client.get("/me", headers=tenant["headers"])
    assert r.status_code == 401


def test_unknown_route_is_problem_json(api_client) -> None:
    r = api_client.get("/nao-existe")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
