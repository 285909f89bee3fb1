"""Real PostgreSQL for every test that needs one: TEST_DATABASE_URL when set, else an embedded server
under .data/pgtest. Migrations run once into a template database; each test gets a fresh copy
(CREATE DATABASE … TEMPLATE), so tests are isolated and fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pipelines.core.common.db import embedded_url, with_dbname
from pipelines.core.common.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return embedded_url(ROOT / ".data" / "pgtest")


def _with_db(url: str, dbname: str) -> str:
    return with_dbname(url, dbname)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    name = f"dat_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate(_with_db(pg_server_url, name))
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(pg_server_url: str, template: str | None) -> tuple[str, str]:
    name = f"dat_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        if template:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            admin.execute(f'CREATE DATABASE "{name}"')
    return name, _with_db(pg_server_url, name)


def drop_database(pg_server_url: str, name: str) -> None:
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server_url: str, template_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of this test's own; DATABASE_URL points at it for code under test."""
    name, url = fresh_database(pg_server_url, template_db)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def empty_database_url(pg_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database (no migrations applied)."""
    name, url = fresh_database(pg_server_url, None)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    from pipelines.core.common.db import connect

    c = connect(database_url, autocommit=True)
    yield c
    c.close()


@pytest.fixture
def make_tenant(conn: psycopg.Connection):
    """Factory: make_tenant("acme") -> {"tenant": Tenant, "id", "slug", "api_key", "headers"}."""
    from pipelines.core.tenancy.tenants import create_tenant

    def _make(slug: str = "acme", **kwargs: Any) -> dict[str, Any]:
        tenant, key = create_tenant(conn, slug, **kwargs)
        return {
            "tenant": tenant,
            "id": tenant.id,
            "slug": slug,
            "api_key": key,
            "headers": {"Authorization": f"Bearer {key}"},
        }

    return _make


@pytest.fixture
def tenant(make_tenant) -> dict[str, Any]:
    return make_tenant("acme")


@pytest.fixture
def other_tenant(make_tenant) -> dict[str, Any]:
    return make_tenant("outra")


@pytest.fixture
def api_client(database_url: str):
    """FastAPI TestClient over the real app and a real database (lifespan runs)."""
    from fastapi.testclient import TestClient

    from api_lite.main import create_app

    with TestClient(create_app(database_url, max_size=4)) as client:
        yield client


@pytest.fixture
def cli(database_url: str, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process: cli("tenant", "list") -> (exit_code, stdout, stderr)."""
    from pipelines.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # what the test itself printed or logged before is not the command's output
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(scope="module")
def sim():
    """The MCP simulator (a test double) over real HTTP on a free port, one per test module; tests reset
    it (`POST /sim/reset`) and configure it (`POST /sim/config`) as they need. A module that needs another
    configuration defines its own `sim`."""
    from pipelines.mcp_sim import SimConfig, run_in_thread

    handle = run_in_thread(SimConfig())
    yield handle
    handle.stop()


@pytest.fixture
def wired_sim(monkeypatch: pytest.MonkeyPatch):
    """A fresh simulator for one test, set as both channels' MCP endpoint (MCP_*_ENDPOINT)."""
    from pipelines.mcp_sim import SimConfig, run_in_thread

    handle = run_in_thread(SimConfig(), port=0)
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", handle.url)
    monkeypatch.setenv("MCP_EMAIL_ENDPOINT", handle.url)
    yield handle
    handle.stop()


# ---- every PostgreSQL server a session starts is stopped when it ends (checked) --------------------------


def _postmasters() -> dict[int, str]:
    """Running PostgreSQL postmasters (pid -> data directory); backends have rewritten titles, no -D."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmd[:-1]:
            found[proc.pid] = str(Path(cmd[cmd.index("-D") + 1]).resolve())
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_RUNNING_AT_START] = _postmasters()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_RUNNING_AT_START, None)
    if before is None:
        return
    from pipelines.core.common.db import stop_embedded

    test_home = ROOT / ".data" / "pgtest"
    if str((test_home / "pg").resolve()) not in before.values():
        stop_embedded(test_home)  # this session started the tests' server: stop it
    # any other server started under .data/ (but the product's own and the benchmarks') or under this
    # session's temporary folders is a leak
    data = ROOT.resolve() / ".data"
    kept = (str(data / "pg") + os.sep, str(data / "pgbench") + os.sep)
    roots = [str(data) + os.sep]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        roots.append(str(factory.getbasetemp().resolve()) + os.sep)
    leaked = {
        pid: datadir
        for pid, datadir in _postmasters().items()
        if pid not in before
        and any(datadir.startswith(r) for r in roots)
        and not any((datadir + os.sep).startswith(k) for k in kept)
    }
    if leaked:
        for datadir in leaked.values():
            stop_embedded(Path(datadir).parent)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "ERRO: servidores PostgreSQL iniciados pelos testes e deixados rodando (parados agora): "
                + ", ".join(sorted(leaked.values())),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_RUNNING_AT_START = pytest.StashKey[dict[int, str]]()
