"""The OpenAPI contract is the validation: typed parameters with their bounds, problem+json errors
declared on every operation, one timestamp form (UTC, Z) in responses."""

from __future__ import annotations

import re

import pytest

_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def test_every_operation_declares_problem_errors(api_client) -> None:
    schema = api_client.get("/openapi.json").json()
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["chaveDeApi"]["scheme"] == "bearer"
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for status in ("401", "404", "409", "413", "415", "422", "429"):
                content = op["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
            assert "Retry-After" in op["responses"]["429"]["headers"], (method, path)


def test_parameters_state_their_bounds(api_client) -> None:
    schema = api_client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/leads"]["get"]["parameters"]}
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 500)
    assert params["offset"]["minimum"] == 0 and params["offset"]["maximum"] == 10_000_000
    assert params["status"]["anyOf"][0]["enum"][-1] == "descartado"
    body = schema["components"]["schemas"]["DisparoIn"]
    assert body["additionalProperties"] is False and body["properties"]["canal"]["enum"] == [
        "whatsapp",
        "email",
    ]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/leads?limit=0", "limit"),
        ("/leads?limit=501", "limit"),
        ("/leads?offset=59968653141007906373632", "offset"),
        ("/leads?offset=-1", "offset"),
        ("/leads?status=quente", "status"),
        ("/campanhas?offset=99999999999", "offset"),
        ("/agendamentos?offset=9223372036854775808", "offset"),
        ("/optouts?canal=", "canal"),
        ("/templates?canal=sms", "canal"),
        ("/leads/nao-e-uuid", "lead_id"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(api_client, tenant, path, field) -> None:
    r = api_client.get(path, headers=tenant["headers"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        {"nome": "", "canal": "whatsapp", "corpo": "oi"},
        {"nome": "a\x00b", "canal": "whatsapp", "corpo": "oi"},
        {"nome": "x", "canal": "whatsapp", "corpo": "oi\x00"},
        {"nome": "x", "canal": "whatsapp", "corpo": "oi", "extra": 1},
        {"nome": "x" * 101, "canal": "whatsapp", "corpo": "oi"},
        {"nome": "x", "canal": "", "corpo": "oi"},
    ],
)
def test_bad_bodies_are_422(api_client, tenant, body) -> None:
    r = api_client.post("/templates", json=body, headers=tenant["headers"])
    assert r.status_code == 422, r.text


def test_idempotency_key_bounds(api_client, tenant) -> None:
    lead = "00000000-0000-4000-8000-000000000000"
    body = {"canal": "whatsapp", "template": "t"}
    for key in ("", "x" * 256, "com espaco"):
        r = api_client.post(
            f"/leads/{lead}/disparos", json=body, headers={**tenant["headers"], "Idempotency-Key": key}
        )
        assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key", (key, r.text)
    r = api_client.post(
        f"/leads/{lead}/disparos", json=body, headers={**tenant["headers"], "Idempotency-Key": "k" * 255}
    )
    assert r.status_code == 404  # valid key; the lead does not exist


def test_timestamps_are_utc_with_z(api_client, tenant) -> None:
    h = tenant["headers"]
    t = api_client.post(
        "/templates", json={"nome": "t", "canal": "whatsapp", "corpo": "oi {{nome}}"}, headers=h
    ).json()
    o = api_client.post("/optouts", json={"canal": "email", "destino": "a@b.com.br"}, headers=h).json()
    c = api_client.post(
        "/campanhas", json={"canal": "whatsapp", "template": "t", "inicio": "2030-01-02T09:00:00"}, headers=h
    ).json()
    for value in (t["created_at"], t["updated_at"], o["created_at"], c["created_at"], c["inicio"]):
        assert _Z.match(value), value
    assert c["inicio"] == "2030-01-02T12:00:00Z"  # no offset: the tenant's zone (America/Sao_Paulo)
