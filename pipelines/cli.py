"""The `disparo-agenda` command. Subcommands live in pipelines/commands/<name>.py, each with
`register(subparsers)`; handlers return an exit code. Errors are one line on stderr, never a traceback
(set DISPARO_AGENDA_DEBUG=1 to see one). A run imports only the module of the command it names
(`_command_modules`): name a new module after its command."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import traceback

import psycopg

import pipelines.commands
from pipelines.core.common.errors import DisparoAgendaError
from pipelines.core.common.logs import configure_logging


def _command_modules(argv: list[str] | None) -> list[str]:
    """The command modules to import: only the one named on the command line (module `mcp_sim` is command
    `mcp-sim`), so a command's start-up does not pay for every other command's imports (polars, duckdb,
    pyarrow, httpx…); all of them for the top-level help, an unknown command or a command registered by a
    module of another name (`dev` by serve, `dlq` by send: correct, only slower to start)."""
    names = [m.name for m in pkgutil.iter_modules(pipelines.commands.__path__)]
    args = sys.argv[1:] if argv is None else argv
    wanted = args[0].replace("-", "_") if args and not args[0].startswith("-") else None
    return [wanted] if wanted in names else names


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (only the subcommand it names is registered; every one when none is named)."""
    parser = argparse.ArgumentParser(
        prog="disparo-agenda",
        description="Ingestão de planilhas de leads, disparos (WhatsApp/e-mail) e agendamentos.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMANDO")
    sub.required = True
    modules = sorted(
        (importlib.import_module(f"pipelines.commands.{name}") for name in _command_modules(argv)),
        key=lambda mod: (getattr(mod, "ORDER", 50), mod.__name__),
    )
    for module in modules:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    # LogEntry lines on stderr: the long-running commands log their work (INFO); a one-shot command's
    # stderr is its one `erro: …` line, so it logs only errors unless DISPARO_AGENDA_LOG_LEVEL asks more.
    service = {"serve": "api", "worker": "worker"}.get(args.command, "cli")
    default = "INFO" if service != "cli" else "ERROR"
    level = logging.getLevelName((os.environ.get("DISPARO_AGENDA_LOG_LEVEL") or default).upper())
    configure_logging(level if isinstance(level, int) else logging.INFO, service=service)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrompido", file=sys.stderr)
        return 130
    except DisparoAgendaError as exc:
        print(f"erro: {exc.message}", file=sys.stderr)
        return 2 if exc.status_code < 500 else 1
    except psycopg.OperationalError as exc:  # down, restarting or unreachable (also mid-command)
        _debug()
        print(f"erro: banco de dados indisponível: {_first_line(exc)}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        _debug()
        print(f"erro de banco de dados: {_first_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: one line, not a traceback
        _debug()
        print(f"erro inesperado ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 1


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _debug() -> None:
    if os.environ.get("DISPARO_AGENDA_DEBUG"):
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
