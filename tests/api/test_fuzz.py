"""Property-based fuzzing of the whole OpenAPI contract with schemathesis, over real HTTP to the app served
by uvicorn on a real database, as an authenticated tenant, with every check. A seeded, bounded run is part
of `make test`; the long run is `pytest -m fuzz` (FUZZ_EXAMPLES examples per operation, default 700).

The only relaxation: for the operations listed in SEMANTIC_422, a schema-valid request may be answered
422 when a rule that no JSON Schema can state refuses it (a time that is already past, a phone number that
does not exist, a template variable the lead does not have, an agendamento already at that time...). Each
such 422 is still checked for the problem+json shape."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.config._auth import AuthConfig

from tests.agendamentos_support import make_lead
from tests.conftest import drop_database, fresh_database

EXAMPLES = 8  # per operation in `make test`
LONG_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "700"))  # per operation in `pytest -m fuzz`

# operations whose domain rules can refuse a schema-valid request with 422 (see the module docstring)
SEMANTIC_422 = {
    "POST /leads/{lead_id}/disparos",  # time, destination validity, template variables, opt-out
    "POST /leads/{lead_id}/agendamentos",  # data_agendada in the past, responsavel not a real phone/e-mail
    "POST /agendamentos/{agendamento_id}/reagendar",  # in the past or the same time
    "GET /agendamentos",  # responsavel not a real phone/e-mail
    "GET /agendamentos/feed-url",  # responsavel not a real phone/e-mail
    "GET /agendamentos.ics",  # responsavel not a real phone/e-mail
    "GET /relatorios/funil",  # de..ate longer than 366 days, or ate before de
    "POST /campanhas",  # template missing on the channel, variables the leads lack
    "POST /optouts",  # destino not a real phone / e-mail
    "DELETE /optouts",
    "DELETE /optouts/{canal}/{destino}",
    "PATCH /templates/{template_id}",  # the merged template must still be valid (e-mail keeps assunto)
    "PUT /templates/{template_id}",
    "POST /webhooks/mcp/status",  # timestamp in the future
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(pg_server_url: str, template_db: str, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One database and one uvicorn server for the module: a tenant with leads, phones and e-mails."""
    from api_lite.main import create_app
    from pipelines.core.common.db import connect
    from pipelines.core.tenancy.tenants import create_tenant

    mp = pytest.MonkeyPatch()
    mp.setenv("DISPARO_AGENDA_HOME", str(tmp_path_factory.mktemp("fuzz-home")))
    mp.setenv("DISPARO_AGENDA_INGEST_INLINE", "0")  # jobs wait for Dagster: nothing runs behind the fuzzer
    mp.setenv("DISPARO_AGENDA_RATE_LIMIT", "100000/minute")  # the fuzzer is one key sending fast
    for var in ("MCP_WHATSAPP_ENDPOINT", "MCP_EMAIL_ENDPOINT", "MCP_CALENDAR_ENDPOINT"):
        mp.delenv(var, raising=False)
    name, url = fresh_database(pg_server_url, template_db)
    mp.setenv("DATABASE_URL", url)
    conn = connect(url, autocommit=True)
    tenant, key = create_tenant(conn, "fuzz")
    for i in range(3):
        make_lead(conn, tenant.id, email=f"lead{i}@exemplo.com.br")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(url, max_size=4), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn não subiu")
        time.sleep(0.05)
    # schemathesis sends the key itself (and knows to leave it out when testing that auth is enforced)
    schema.config.auth = AuthConfig(openapi={"chaveDeApi": {"bearer": key}})
    try:
        yield {"base": f"http://127.0.0.1:{port}"}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        conn.close()
        drop_database(pg_server_url, name)
        mp.undo()


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20251127,
            "generation": {"mode": "all"},
            # a body over the size limit is refused with 413 before it is parsed: a rejection too
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [
                        "400",
                        "401",
                        "403",
                        "404",
                        "405",
                        "406",
                        "409",
                        "413",
                        "415",
                        "422",
                        "428",
                        "429",
                    ]
                }
            },
            "operations": [
                {
                    # a file that is not a spreadsheet is refused by its content: 415
                    "include-name": ["POST /ingest/leads/xlsx"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "415", "422", "429"]
                        }
                    },
                },
                {
                    "include-name": sorted(SEMANTIC_422),
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                        }
                    },
                },
            ],
        }
    )


def _load_schema():
    """The contract as the app states it (building it needs no database); requests go to `served`."""
    from api_lite.main import create_app

    return schemathesis.openapi.from_dict(
        create_app("postgresql://unused/unused").openapi(), config=_config()
    )


schema = _load_schema()


def _check_problem(response: Any) -> None:
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code and body["detail"]


_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


@schema.parametrize()
@settings(max_examples=EXAMPLES, **_SETTINGS)
def test_contract_holds(case, served) -> None:
    _check_problem(case.call_and_validate(base_url=served["base"]))


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
@schema.parametrize()
@settings(max_examples=LONG_EXAMPLES, **_SETTINGS)
def test_contract_holds_long(case, served) -> None:
    _check_problem(case.call_and_validate(base_url=served["base"]))


def _run_stateful(served, examples: int, steps: int) -> None:
    """create -> get -> act chains found by schemathesis from the responses (ids in bodies, Location)."""

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"base_url": served["base"]}

        def after_call(self, response, case):
            _check_problem(response)

    run_state_machine_as_test(
        Machine, settings=settings(max_examples=examples, stateful_step_count=steps, **_SETTINGS)
    )


def test_stateful_links(served) -> None:
    _run_stateful(served, EXAMPLES, 8)


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_stateful_links_long(served) -> None:
    _run_stateful(served, LONG_EXAMPLES // 4, 40)
