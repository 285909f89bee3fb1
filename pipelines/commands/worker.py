"""`worker`: the long-running send loop (disparos and reminders) as a plain process, pipelines.core.send.loop.
Run N of them (on N machines) to scale sending; SIGTERM/SIGINT stops it cleanly with exit 0."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.core.common.db import database_url
from pipelines.core.common.errors import ValidationError
from pipelines.core.send.engine import SendOptions
from pipelines.core.send.loop import LoopOptions, SendLoop, run_loop

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="envia disparos e lembretes na hora marcada, sem parar (rode N réplicas para escalar); "
        "SIGTERM/Ctrl-C termina o que está em voo e sai",
    )
    p.add_argument("--canal", choices=["whatsapp", "email"], help="só este canal (padrão: os configurados)")
    p.add_argument("--concurrency", type=int, default=50, help="pedidos simultâneos ao MCP (padrão 50)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--sem-lembretes", action="store_true", help="não envia lembretes de agendamentos")
    p.add_argument(
        "--heartbeat-parado-s",
        type=float,
        default=6.0,
        metavar="S",
        help="heartbeat mais velho que isto: o worker é dado como morto e seus envios voltam à fila (padrão 6)",
    )
    p.add_argument("--budget", type=float, metavar="S", help="sai sozinho depois de S segundos")
    p.add_argument("--json", action="store_true", help="imprime as contagens finais em JSON")
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    if args.concurrency < 1 or args.batch_size < 1 or args.heartbeat_parado_s <= 1:
        raise ValidationError("--concurrency e --batch-size devem ser positivos; --heartbeat-parado-s > 1")
    if args.budget is not None and args.budget <= 0:
        raise ValidationError("--budget deve ser positivo")
    options = LoopOptions(
        send=SendOptions(canal=args.canal, concurrency=args.concurrency, batch_size=args.batch_size),
        lembretes=not args.sem_lembretes,
        time_budget_s=args.budget,
        stale_s=args.heartbeat_parado_s,
    )

    def announce(loop: SendLoop) -> None:
        canais = ", ".join(loop.canais) or "nenhum"
        lembretes = "e lembretes " if options.lembretes else ""
        print(
            f"worker {loop.worker_id} no ar: disparos ({canais}) {lembretes}na hora marcada; "
            "Ctrl-C ou SIGTERM para parar",
            file=sys.stderr,
            flush=True,
        )

    stats = run_loop(database_url(), options, handle_signals=True, on_start=announce)
    if args.json:
        print(json.dumps(stats.as_dict()))
    else:
        print(
            f"worker parado: enviados {stats.enviados} · reenvios agendados {stats.reenvios} · falhas "
            f"{stats.falhas} (DLQ {stats.dlq}) · lembretes {stats.lembretes_enviados} · "
            f"{stats.duracao_s:.1f} s",
            file=sys.stderr,
        )
    return 0
