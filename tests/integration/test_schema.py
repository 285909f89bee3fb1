"""sql/schema.sql and the migrations describe the same schema: one database is built from each and their
catalogs are compared (regenerate the file with `make schema`)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import psycopg
import pytest

from pipelines.core.common.migrate import SCHEMA_HEADER, dump_schema

STALE = "sql/schema.sql está desatualizado em relação às migrações: rode `make schema`"

# Each query lists one kind of object of the public schema as comparable rows (no oids, no attnums).
CATALOG = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, coalesce(c.reloptions, '{}'), c.relrowsecurity,
               c.relforcerowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), co.collname, a.attidentity, a.attgenerated,
               a.attstorage, a.attcompression,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0
          AND NOT a.attisdropped""",
    "constraints": """
        SELECT coalesce(c.relname, t.typname), con.conname, con.contype, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred, con.convalidated
        FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class c ON c.oid = con.conrelid LEFT JOIN pg_type t ON t.oid = con.contypid
        WHERE n.nspname = 'public'""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": """
        SELECT c.relname, tg.tgname, pg_get_triggerdef(tg.oid), tg.tgenabled
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT tg.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
    "policies": """
        SELECT tablename, policyname, permissive, roles, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'public'""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle, cache_size
        FROM pg_sequences WHERE schemaname = 'public'""",
    "types": """
        SELECT t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
               (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')""",
    "statistics": """
        SELECT s.stxname, pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE n.nspname = 'public'""",
    "comments": """
        SELECT c.relname, d.objsubid, d.description
        FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'""",
    "extensions": "SELECT extname FROM pg_extension",
}
# Created by the migration runner, not by a migration (schema.sql leaves it out).
RUNNER_OWN = "schema_migrations"


def _row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)  # arrays (reloptions, roles) hashable


def catalog(url: str) -> dict[str, set[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            kind: {_row(row) for row in conn.execute(q).fetchall() if RUNNER_OWN not in map(str, row[:2])}
            for kind, q in CATALOG.items()
        }


def _differences(a: dict[str, set[tuple[Any, ...]]], b: dict[str, set[tuple[Any, ...]]]) -> dict[str, Any]:
    return {
        kind: {"só nas migrações": sorted(map(str, a[kind] - b[kind])), "só no schema.sql": sorted(map(str, b[kind] - a[kind]))}
        for kind in CATALOG
        if a[kind] != b[kind]
    }  # fmt: skip


def _load_schema_sql(url: str, extra: str = "", text: str | None = None) -> None:
    if text is None:
        text = (files("sql") / "schema.sql").read_text(encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text.encode())
        if extra:
            conn.execute("SET search_path = public")
            conn.execute(extra.encode())


def test_schema_sql_matches_the_migrations(database_url: str, empty_database_url: str) -> None:
    _load_schema_sql(empty_database_url)
    from_migrations, from_file = catalog(database_url), catalog(empty_database_url)
    assert all(from_migrations[k] for k in ("relations", "columns", "constraints", "indexes", "functions"))
    assert _differences(from_migrations, from_file) == {}, STALE


@pytest.mark.parametrize(
    "change",
    [
        "CREATE INDEX idx_extra ON leads (nome)",
        "ALTER TABLE leads ALTER COLUMN nome DROP NOT NULL",
        "ALTER TABLE leads SET (fillfactor = 90)",
        "CREATE OR REPLACE FUNCTION fk_conjunto_chave_fixa() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$",
    ],
)
def test_a_schema_difference_is_seen(database_url: str, empty_database_url: str, change: str) -> None:
    """The comparison is not blind: one change on the schema.sql side shows up."""
    _load_schema_sql(empty_database_url, change)
    assert _differences(catalog(database_url), catalog(empty_database_url)) != {}


def test_the_generator_writes_a_schema_that_matches(
    pg_server_url: str, database_url: str, empty_database_url: str
) -> None:
    """`make schema` (dump_schema) builds what the migrations build, and leaves no scratch database behind."""
    text = dump_schema(pg_server_url)
    assert text.startswith(SCHEMA_HEADER) and "schema_migrations" not in text and "-- Dumped by" not in text
    _load_schema_sql(empty_database_url, text=text)
    assert _differences(catalog(database_url), catalog(empty_database_url)) == {}
    with psycopg.connect(pg_server_url) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'schema_dump_%'").fetchall()
    assert left == []
