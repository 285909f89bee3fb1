"""Forward-only migrations from sql/NNNN_desc.sql, applied in order inside one transaction.

The files are read from the installed `sql` package (importlib.resources), so a wheel install migrates
exactly what an editable one does; finding none is an error, never a silent "up to date".

Safe to run from several processes at once: the whole run holds a transaction-level advisory lock,
so a second runner waits and then finds nothing pending. Refused, because the database would silently
differ from the code: a file that changed after it was applied (its checksum no longer matches), and a
pending file numbered below the newest applied one (added "in the past", e.g. by a merge: the databases
that already went past it would never run it in order).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.core.common.db import connect, database_url, with_dbname
from pipelines.core.common.errors import ConfigError

SQL_DIR: Traversable = files("sql")
_LOCK_KEY = 7_310_442_001  # arbitrary, constant: "disparo-agenda migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(sql_dir: Traversable | Path = SQL_DIR) -> list[Migration]:
    """Every NNNN_desc.sql of the `sql` package (or of `sql_dir`), in order."""
    migrations = []
    for entry in sorted(sql_dir.iterdir(), key=lambda e: e.name):
        match = _NAME.match(entry.name)
        if not match or not entry.is_file():
            continue  # named queries and schema.sql live beside the migrations
        migrations.append(Migration(match.group(1), entry.name, entry.read_text(encoding="utf-8")))
    if not migrations:
        raise ConfigError(
            f"nenhuma migração (NNNN_desc.sql) encontrada em {sql_dir}; "
            "o pacote foi instalado sem os arquivos sql/*.sql?"
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"duas migrações com o mesmo número em {sql_dir}")
    return migrations


def migrate(url: str | None = None, sql_dir: Traversable | Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    migrations = load_migrations(sql_dir)
    with connect(url) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    TEXT PRIMARY KEY,
                       nome       TEXT NOT NULL,
                       checksum   TEXT NOT NULL,
                       applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )
            applied = {
                row["version"]: row
                for row in conn.execute("SELECT version, nome, checksum FROM schema_migrations").fetchall()
            }
            for m in migrations:
                done = applied.get(m.version)
                if done and done["checksum"] != m.checksum:
                    raise ConfigError(
                        f"a migração {m.name} já aplicada foi alterada (checksum diferente); "
                        "crie uma nova migração em vez de editar uma aplicada"
                    )
            pending = [m for m in migrations if m.version not in applied]
            newest = max(applied, default=None)
            late = [m.name for m in pending if newest is not None and m.version < newest]
            if late:
                raise ConfigError(
                    f"a migração {late[0]} tem número menor que a última aplicada ({applied[newest]['nome']}); "
                    "renumere-a para depois da última (migrações só andam para a frente)"
                )
            names = []
            for m in pending:
                try:
                    conn.execute(m.sql.encode())
                except psycopg.Error as exc:
                    raise ConfigError(
                        f"a migração {m.name} falhou: {str(exc).strip().splitlines()[0]}"
                    ) from exc
                conn.execute(
                    "INSERT INTO schema_migrations (version, nome, checksum) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.checksum),
                )
                names.append(m.name)
            _seal_plaintext_secrets(conn)
    return names


SCHEMA_HEADER = """\
-- The whole schema the migrations (sql/NNNN_desc.sql) build, for reading and review: generated, never edited.
-- Regenerate after adding a migration: `make schema` (disparo-agenda db schema -o sql/schema.sql).
-- tests/integration/test_schema.py fails when this file and the migrations disagree.
-- Databases are created and upgraded by `disparo-agenda db migrate`, never from this file.
"""


def _pg_dump() -> str:
    """pg_dump of the embedded server's binaries (pgserver ships them), else the one on PATH."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]

        path = POSTGRES_BIN_PATH / "pg_dump"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if found is None:
        raise ConfigError("pg_dump não encontrado (nem no pgserver nem no PATH)")
    return found


def dump_schema(url: str | None = None) -> str:
    """The schema the migrations build, as SQL: every migration applied to a scratch database on the same
    server, dumped with `pg_dump --schema-only` (without owners, grants and the migrations' own table)."""
    server = url or database_url()
    name = f"schema_dump_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        scratch = with_dbname(server, name)
        migrate(scratch)
        run = subprocess.run(
            [_pg_dump(), "--schema-only", "--no-owner", "--no-privileges",
             "--exclude-table=public.schema_migrations", "--dbname", scratch],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if run.returncode != 0:
        first = (run.stderr.strip().splitlines() or ["sem mensagem"])[0]
        raise ConfigError(f"pg_dump falhou: {first}")
    # The versions that produced the dump change with the machine, not with the schema.
    lines = [
        line for line in run.stdout.splitlines() if not line.startswith(("-- Dumped from", "-- Dumped by"))
    ]
    return SCHEMA_HEADER + "\n".join(lines).strip() + "\n"


def _seal_plaintext_secrets(conn: psycopg.Connection) -> None:
    """Encrypt webhook secrets older versions stored in plaintext: SQL cannot (the key is not in the
    database), so this runs in Python inside the migration transaction."""
    has_column = conn.execute(
        """SELECT 1 FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = 'tenants'
             AND column_name = 'webhook_secret_cifrado'"""
    ).fetchone()
    if has_column:
        from pipelines.core.tenancy.secrets import seal_plaintext_secrets  # tenancy builds on common

        seal_plaintext_secrets(conn)
