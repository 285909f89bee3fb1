"""Forward-only migrations from sql/NNNN_desc.sql, applied in order inside one transaction.

Safe to run from several processes at once: the whole run holds a transaction-level advisory lock,
so a second runner waits and then finds nothing pending. A file that changed after it was applied is
refused (its checksum no longer matches), because the database would silently differ from the code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.core.common.db import connect
from pipelines.core.common.errors import ConfigError

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"
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


def load_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            continue  # named queries and schema.sql live beside the migrations
        migrations.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"duas migrações com o mesmo número em {sql_dir}")
    return migrations


def migrate(url: str | None = None, sql_dir: Path = SQL_DIR) -> list[str]:
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
            names = []
            for m in migrations:
                if m.version in applied:
                    continue
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
    return names
