"""Named SQL queries kept as SQL: `sql/queries/<room>.sql`, one statement per `-- name: <name>` header.

Loaded once per file and returned as text, so callers use them with any psycopg connection (sync or
async), `%(param)s` placeholders, and COPY alike. aiosql does the same job but calls queries through its
own functions with `:param` style; we only need the text."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from pipelines.core.common.errors import ConfigError

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """{name: statement} of a named-query file; text before the first header is a comment block, and
    comment lines right above a header describe the next statement (they are not part of the one above,
    which may be a fragment embedded mid-line in a composed statement)."""
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ConfigError(f"consulta nomeada repetida: {name}")
        lines = body.strip().splitlines()
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
            lines.pop()
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if not statement:
            raise ConfigError(f"consulta nomeada vazia: {name}")
        queries[name] = statement
    return queries


@cache
def _room(room: str) -> dict[str, str]:
    path = files("sql") / "queries" / f"{room}.sql"
    return parse(path.read_text(encoding="utf-8"))


def query(room: str, name: str) -> str:
    """The statement `name` of `sql/queries/<room>.sql`."""
    try:
        return _room(room)[name]
    except KeyError:
        raise ConfigError(f"consulta {name!r} não existe em sql/queries/{room}.sql") from None
