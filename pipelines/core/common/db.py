"""Connections: DATABASE_URL when set, else one embedded PostgreSQL (pgserver) under DISPARO_AGENDA_HOME.

Row-level security (sql/0019): `act_as_tenant` makes a connection run as the role `disparo_agenda_app`
with `app.tenant_id` set, so its queries see and write only that tenant's rows whatever their filters say;
`leave_tenant` gives the connection back its owner role. api_lite does this per request; everything that
works across tenants (send workers, ingest, Dagster, migrations, CLI) keeps the owner role.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from pipelines.core.common.errors import ConfigError
from pipelines.core.common.settings import Settings

log = logging.getLogger(__name__)

APP_ROLE = "disparo_agenda_app"  # created by sql/0019; NOLOGIN, bound by the tenant_isolation policies
TENANT_SETTING = "app.tenant_id"

_embedded_lock = threading.Lock()
_embedded_uri: dict[Path, str] = {}


def embedded_url(home: Path) -> str:
    """Start (or join) the embedded server. It keeps running after this process exits so that the
    CLI, api_lite and Dagster processes all share it; `disparo-agenda db stop` stops it."""
    pgdata = home / "pg"
    with _embedded_lock:
        if pgdata in _embedded_uri:
            return _embedded_uri[pgdata]
        home.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(home / "run"))
        (home / "run").mkdir(exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("pgserver").setLevel(logging.WARNING)
            import pgserver

            # pgserver's own lock does not cover creating pgdata: serialize first start across processes.
            with open(home / ".pg.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    server = pgserver.get_server(pgdata, cleanup_mode=None)
                except Exception as exc:  # pgserver raises plain exceptions with a log path
                    raise ConfigError(
                        f"não foi possível iniciar o PostgreSQL embutido em {pgdata}: {exc}"
                    ) from exc
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        uri = server.get_uri()
        _embedded_uri[pgdata] = uri
        return uri


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server under `home` (``pg_ctl stop -m fast``, waiting for it); False when it was
    not running. Forgets this process's cached URL of it."""
    pgdata = home / "pg"
    with _embedded_lock:
        _embedded_uri.pop(pgdata, None)
    if not (pgdata / "postmaster.pid").exists():
        return False
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]

    cmd = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:  # pgserver runs the server as its own user when started by root
        cmd = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=False, capture_output=True)
    return True


def database_url(settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    if settings.database_url:
        return settings.database_url
    return embedded_url(settings.home)


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection with dict rows. Callers own transactions (`with conn.transaction():`)."""
    url = url or database_url()
    try:
        return psycopg.connect(url, row_factory=dict_row, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"não foi possível conectar ao PostgreSQL: {_first_line(exc)}") from exc


@contextmanager
def connection(url: str | None = None) -> Iterator[psycopg.Connection]:
    """Autocommit connection, closed on exit; wrap writes in `conn.transaction()`."""
    conn = connect(url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def act_as_tenant(conn: psycopg.Connection, tenant_id: UUID | str) -> None:
    """From now on (session level, until `leave_tenant`) this connection sees only this tenant's rows.
    One round trip; call it outside a transaction (a rollback would undo it)."""
    conn.execute(
        "SELECT set_config(%s, %s, false), set_config('role', %s, false)",
        (TENANT_SETTING, str(tenant_id), APP_ROLE),
    )


def leave_tenant(conn: psycopg.Connection) -> None:
    """Back to the connecting (owner) role, no tenant. A connection that cannot be reset is closed, so a
    pool never hands out one still bound to a tenant."""
    if conn.closed:
        return
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.execute("SELECT set_config('role', 'none', false), set_config(%s, '', false)", (TENANT_SETTING,))
    except psycopg.Error as exc:
        log.warning("conexão descartada: não foi possível sair do tenant (%s)", _first_line(exc))
        conn.close()


@contextmanager
def tenant_scope(conn: psycopg.Connection, tenant_id: UUID | str) -> Iterator[psycopg.Connection]:
    """`act_as_tenant` for the duration of a block."""
    act_as_tenant(conn, tenant_id)
    try:
        yield conn
    finally:
        leave_tenant(conn)


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials, another database (tests' and benchmarks' scratch databases)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
