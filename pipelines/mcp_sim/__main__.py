"""`python -m pipelines.mcp_sim [--port 8100] ...` — same flags as `disparo-agenda mcp-sim`."""

from __future__ import annotations

import argparse

from pipelines.mcp_sim.app import serve
from pipelines.mcp_sim.config import add_sim_arguments, config_from_args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.mcp_sim", description="MCP simulator (test double)"
    )
    add_sim_arguments(parser)
    args = parser.parse_args(argv)
    serve(config_from_args(args), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
