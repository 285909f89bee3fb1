from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import psycopg
import pytest

from pipelines.core.common.errors import ConfigError
from pipelines.core.common.migrate import SQL_DIR, load_migrations, migrate


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as c:
        rows = c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrate_twice_applies_once(empty_database_url: str) -> None:
    first = migrate(empty_database_url)
    assert first == [m.name for m in load_migrations()]
    assert migrate(empty_database_url) == []
    expected = {
        "tenants", "api_keys", "leads", "lead_telefones", "lead_emails", "ingest_jobs", "ingest_rejeicoes",
        "disparos", "disparos_dlq", "agendamentos", "templates", "optouts", "schema_migrations",
    }  # fmt: skip
    assert expected <= _tables(empty_database_url)


def _run_migrate(url: str, q: mp.Queue) -> None:
    try:
        q.put(("ok", migrate(url)))
    except Exception as exc:  # pragma: no cover - reported to the parent
        q.put(("err", repr(exc)))


def test_concurrent_migrate_is_safe(empty_database_url: str) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_run_migrate, args=(empty_database_url, q)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(kind == "ok" for kind, _ in results), results
    applied = [names for _, names in results]
    total = len(load_migrations())
    # exactly one process applied everything; the others found nothing pending
    assert sorted(len(a) for a in applied) == [0] * (len(procs) - 1) + [total]
    with psycopg.connect(empty_database_url) as c:
        assert c.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == total


def test_changed_applied_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    for m in load_migrations(SQL_DIR):
        (tmp_path / m.name).write_text(m.sql)
    migrate(empty_database_url, tmp_path)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(ConfigError, match="já aplicada foi alterada"):
        migrate(empty_database_url, tmp_path)


def test_failed_migration_leaves_nothing(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x int); SELEC broken;")
    with pytest.raises(ConfigError, match="0002_bad.sql falhou"):
        migrate(empty_database_url, tmp_path)
    assert not ({"a", "b", "schema_migrations"} & _tables(empty_database_url))


def test_no_migration_found_is_an_error_not_an_empty_run(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (x int);")  # not a migration
    with pytest.raises(ConfigError, match="nenhuma migração"):
        migrate(empty_database_url, tmp_path)
    assert "schema_migrations" not in _tables(empty_database_url)


def test_migration_added_below_the_newest_applied_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0003_c.sql").write_text("CREATE TABLE c (x int);")
    assert migrate(empty_database_url, tmp_path) == ["0001_a.sql", "0003_c.sql"]
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (x int);")  # e.g. arrived with a merge
    (tmp_path / "0004_d.sql").write_text("CREATE TABLE d (x int);")
    with pytest.raises(
        ConfigError, match=r"0002_b.sql tem número menor que a última aplicada \(0003_c.sql\)"
    ):
        migrate(empty_database_url, tmp_path)
    assert not ({"b", "d"} & _tables(empty_database_url))  # nothing of the refused run was applied


def test_migrations_are_read_from_the_installed_package() -> None:
    """Not from a path next to the source tree: the `sql` package's own files (see test_wheel.py)."""
    import sql

    names = [m.name for m in load_migrations()]
    assert names and names == sorted(names)
    assert {p.name for p in Path(sql.__file__).parent.glob("[0-9][0-9][0-9][0-9]_*.sql")} == set(names)
