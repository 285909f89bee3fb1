"""`db migrate`, `db schema`, `db url`, `db stop`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.core.common.db import database_url, stop_embedded
from pipelines.core.common.migrate import dump_schema, migrate
from pipelines.core.common.settings import Settings

ORDER = 1


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="banco de dados: migrações e servidor embutido")
    dbsub = db.add_subparsers(dest="db_command", metavar="AÇÃO")
    dbsub.required = True
    p = dbsub.add_parser("migrate", help="aplica as migrações pendentes de sql/ (idempotente)")
    p.set_defaults(func=_migrate)
    p = dbsub.add_parser(
        "schema", help="gera o esquema completo que as migrações constroem (SQL de pg_dump --schema-only)"
    )
    p.add_argument(
        "-o", "--output", metavar="ARQUIVO", help="grava em ARQUIVO (ex.: sql/schema.sql) em vez da saída"
    )
    p.set_defaults(func=_schema)
    p = dbsub.add_parser("url", help="mostra a URL de conexão em uso (inicia o servidor embutido se preciso)")
    p.set_defaults(func=_url)
    p = dbsub.add_parser("stop", help="para o PostgreSQL embutido (sem efeito com DATABASE_URL)")
    p.set_defaults(func=_stop)


def _migrate(args: argparse.Namespace) -> int:
    applied = migrate()
    if applied:
        for name in applied:
            print(f"aplicada: {name}")
    else:
        print("banco atualizado: nenhuma migração pendente")
    return 0


def _schema(args: argparse.Namespace) -> int:
    text = dump_schema()
    if not args.output:
        print(text, end="")
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)  # whole or not at all
    print(f"esquema gravado em {target}")
    return 0


def _url(args: argparse.Namespace) -> int:
    print(database_url())
    return 0


def _stop(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.database_url:
        print("DATABASE_URL definido: nada a parar")
        return 0
    if not stop_embedded(settings.home):
        print("o PostgreSQL embutido não está rodando")
        return 0
    print(f"PostgreSQL embutido parado ({settings.home / 'pg'})")
    return 0
