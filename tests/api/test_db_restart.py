"""Database restarts: while PostgreSQL is unreachable the API answers 503 + Retry-After (problem+json)
and the CLI one `erro:` line; connections broken by a restart are replaced on checkout, so the first
request after it succeeds. The database "restarts" behind a TCP proxy the test cuts (tests/db_proxy.py),
not by stopping the shared test server."""

from __future__ import annotations

import time

import pytest
from db_proxy import CuttableProxy
from fastapi.testclient import TestClient

from api_lite.main import create_app
from pipelines.cli import main


@pytest.fixture
def proxy(database_url):
    p = CuttableProxy(database_url)
    yield p
    p.close()


def test_first_request_after_a_restart_succeeds(proxy, tenant) -> None:
    # min_size=2: both pooled connections sit idle across the restart and are broken by it.
    with TestClient(create_app(proxy.url, min_size=2, max_size=2, pool_timeout=5)) as client:
        assert client.get("/leads", headers=tenant["headers"]).status_code == 200
        proxy.cut()
        proxy.restore()
        for _ in range(3):
            r = client.get("/leads", headers=tenant["headers"])
            assert r.status_code == 200, r.text


def test_api_answers_503_while_the_database_is_down(proxy, tenant) -> None:
    h = tenant["headers"]
    with TestClient(create_app(proxy.url, min_size=1, max_size=2, pool_timeout=1)) as client:
        assert client.get("/leads", headers=h).status_code == 200
        proxy.cut()
        template = {"nome": "t", "canal": "whatsapp", "corpo": "oi"}
        answers = (
            client.get("/leads", headers=h),
            client.post("/templates", json=template, headers=h),  # authenticated before its body is read
            client.get("/health"),
        )
        for r in answers:
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["title"] == "Serviço indisponível" and "banco de dados" in r.json()["detail"]
        proxy.restore()
        # The pool reconnects in the background (with backoff); no restart of the API is needed.
        deadline = time.monotonic() + 30
        while (r := client.get("/leads", headers=h)).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200


def test_cli_prints_one_error_line_while_the_database_is_down(proxy, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", proxy.url)
    proxy.cut()
    for argv in (["send", "--once"], ["tenant", "list"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code != 0
        assert err.count("\n") == 1 and err.startswith("erro: "), err
        assert "Traceback" not in err and "PostgreSQL" in err or "banco de dados" in err
