"""Every named query the code asks for exists, and every named query is asked for by some code."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from pipelines.core.common.queries import parse, query

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"""query\(\s*["'](\w+)["'],\s*(?:["'](\w+)["']|([^)]*))""")


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in (ROOT / "pipelines").rglob("*.py")}


def _rooms() -> dict[str, dict[str, str]]:
    return {f.name[:-4]: parse(f.read_text(encoding="utf-8")) for f in files("sql").joinpath("queries").iterdir()
            if f.name.endswith(".sql")}  # fmt: skip


def test_every_query_called_by_name_exists() -> None:
    calls = [(room, name, expr) for text in _sources().values() for room, name, expr in CALL.findall(text)]
    assert calls, "no query(...) call found: the pattern no longer matches the code"
    for room, name, expr in calls:
        names = [name] if name else re.findall(r"""["'](\w+)["']""", expr)
        for n in names:
            query(room, n)  # raises ConfigError when missing


def test_every_named_query_is_used() -> None:
    code = "\n".join(_sources().values())
    unused = [
        f"{room}.{name}"
        for room, queries in _rooms().items()
        for name in queries
        if f'"{name}"' not in code and f"'{name}'" not in code
    ]
    assert unused == []
