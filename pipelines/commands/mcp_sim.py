"""`mcp-sim` — the MCP simulator, a test double of the WhatsApp/Email MCP servers."""

from __future__ import annotations

import argparse
import sys

from pipelines.mcp_sim.config import add_sim_arguments, config_from_args

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mcp-sim",
        help="simulador dos servidores MCP WhatsApp/Email (dublê de teste, não é parte do produto)",
        description="Simulador MCP (dublê de teste): POST /mcp/whatsapp/send, /mcp/email/send; "
        "GET /sim/messages, /sim/stats; POST /sim/config, /sim/reset, /sim/receipts.",
    )
    add_sim_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pipelines.mcp_sim.app import serve

    config = config_from_args(args)
    print(f"simulador MCP (dublê de teste) em http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    serve(config, host=args.host, port=args.port)
    return 0
