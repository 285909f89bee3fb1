"""Per-API-key rate limit: over DISPARO_AGENDA_RATE_LIMIT a key gets 429 + Retry-After; other keys and
made-up keys are not affected; the default is generous."""

from __future__ import annotations

import pytest

from api_lite.ratelimit import KeyRateLimiter
from pipelines.core.common.errors import ValidationError
from pipelines.core.common.settings import Settings
from pipelines.core.tenancy.tenants import create_api_key


def test_over_the_limit_is_429_with_retry_after(api_client, conn, tenant, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_RATE_LIMIT", "3/minute")
    h = tenant["headers"]
    assert [api_client.get("/me", headers=h).status_code for _ in range(3)] == [200, 200, 200]
    r = api_client.get("/leads", headers=h)
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "3 requisições por minuto" in r.json()["detail"]
    # a body route counts too (authenticated before its body is read)
    assert (
        api_client.post("/optouts", json={"canal": "email", "destino": "a@b.com"}, headers=h).status_code
        == 429
    )
    # per key: a second key of the same tenant has its own budget
    other = create_api_key(conn, tenant["slug"])
    assert api_client.get("/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    # a made-up key is a 401, never counted
    bad = {"Authorization": "Bearer dak_inexistente_xyz"}
    assert [api_client.get("/me", headers=bad).status_code for _ in range(5)] == [401] * 5


def test_default_is_generous_and_can_be_off() -> None:
    assert Settings.from_mapping({}).rate_limit == "1200/minute"
    off = KeyRateLimiter("0")
    for _ in range(5000):
        off.hit("k")  # never raises
    with pytest.raises(ValidationError):
        KeyRateLimiter("muitas")
