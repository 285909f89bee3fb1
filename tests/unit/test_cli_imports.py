"""The CLI imports only the module of the command it runs (pipelines/cli.py): an ingest does not pay the
start-up of the reporting mart (duckdb, pyarrow, adbc), the MCP client (httpx), the API or Dagster."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("dagster", "fastapi", "uvicorn", "duckdb", "pyarrow", "adbc_driver_manager", "httpx", "psutil")

_PROBE = """
import json, sys
from pipelines.cli import build_parser
build_parser(sys.argv[1:])
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _imported(*argv: str) -> list[str]:
    code = _PROBE.format(heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv", [("ingest", "x.xlsx", "--tenant", "acme"), ("tenant", "list"), ("db", "migrate")]
)
def test_a_command_imports_none_of_the_heavy_modules_it_does_not_use(argv: tuple[str, ...]) -> None:
    assert _imported(*argv) == []


def test_top_level_help_still_lists_every_command() -> None:
    from pipelines.cli import build_parser

    help_text = build_parser([]).format_help()
    for command in ("ingest", "campanha", "relatorio", "mcp-sim", "serve", "worker"):
        assert command in help_text
    assert "relatorio" not in build_parser(["ingest"]).format_help()
