"""`send --once` (one in-process drain of due disparos, without Dagster) and `dlq list|redrive`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from uuid import UUID

from pipelines.core.common.db import connection, database_url
from pipelines.core.common.errors import ValidationError
from pipelines.core.send import engine as sender
from pipelines.core.send.dlq import list_dlq, redrive
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="envia os disparos devidos (uma drenagem, sem Dagster)")
    p.add_argument("--once", action="store_true", required=True, help="uma drenagem e sai (obrigatório)")
    p.add_argument("--canal", choices=["whatsapp", "email"])
    p.add_argument("--tenant", metavar="SLUG")
    p.add_argument(
        "--budget", type=float, default=30.0, metavar="S", help="tempo máximo em segundos (padrão 30)"
    )
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=50, help="pedidos simultâneos ao MCP (padrão 50)")
    p.add_argument("--json", action="store_true", help="imprime as contagens em JSON")
    p.set_defaults(func=_send)

    d = sub.add_parser("dlq", help="fila de mortos (disparos que falharam de vez): listar e re-enviar")
    dsub = d.add_subparsers(dest="dlq_command", metavar="AÇÃO")
    dsub.required = True

    p = dsub.add_parser("list", help="lista os disparos na DLQ ainda não re-enviados")
    p.add_argument("--tenant", metavar="SLUG")
    p.add_argument("--canal", choices=["whatsapp", "email"])
    p.add_argument("--since", help="ISO-8601 com fuso, ex.: 2026-01-01T00:00:00-03:00")
    p.add_argument("--until", help="ISO-8601 com fuso")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_dlq_list)

    p = dsub.add_parser("redrive", help="devolve disparos da DLQ para pendente, com tentativas novas")
    p.add_argument("--tenant", metavar="SLUG")
    p.add_argument("--canal", choices=["whatsapp", "email"])
    p.add_argument("--since", help="ISO-8601 com fuso")
    p.add_argument("--until", help="ISO-8601 com fuso")
    p.add_argument("--id", action="append", dest="ids", metavar="DISPARO_ID", help="repetível")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_dlq_redrive)


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"--{name} inválido: {value!r} (use ISO-8601, ex.: 2026-01-01T00:00:00-03:00)"
        ) from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"--{name} precisa de fuso horário (ex.: 2026-01-01T00:00:00-03:00)")
    return parsed


def _uuids(values: list[str] | None) -> list[UUID] | None:
    if not values:
        return None
    try:
        return [UUID(v) for v in values]
    except ValueError as exc:
        raise ValidationError(f"--id inválido: {exc}") from exc


def _tenant_id(conn, slug: str | None) -> UUID | None:  # noqa: ANN001
    return get_tenant_by_slug(conn, slug).id if slug else None


def _send(args: argparse.Namespace) -> int:
    if args.budget <= 0 or args.batch_size < 1 or args.concurrency < 1:
        raise ValidationError("--budget, --batch-size e --concurrency devem ser positivos")
    url = database_url()
    with connection(url) as conn:
        tenant_id = _tenant_id(conn, args.tenant)
    stats = sender.send_due(
        url,
        canal=args.canal,
        tenant_id=tenant_id,
        time_budget_s=args.budget,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
    )
    if args.json:
        print(json.dumps(stats.as_dict()))
    else:
        print(
            f"enviados {stats.enviados} · reenvios agendados {stats.reenvios} · falhas {stats.falhas} "
            f"(DLQ {stats.dlq}) · bloqueados {stats.bloqueados} · adiados (janela) {stats.adiados} · "
            f"{stats.duration_s:.1f} s, {stats.throughput:.0f} msg/s"
        )
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    with connection() as conn:
        rows = list_dlq(
            conn,
            _tenant_id(conn, args.tenant),
            since=_time(args.since, "since"),
            until=_time(args.until, "until"),
            limit=args.limit,
            canal=args.canal,
        )
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    if not rows:
        print("DLQ vazia")
        return 0
    for r in rows:
        print(
            f"{r['created_at']:%Y-%m-%d %H:%M:%S%z}  {r['tenant_slug']}  {r['canal']:8}  {r['disparo_id']}  "
            f"{r['destino']}  tentativas={r['tentativas']}  {r['ultimo_erro'] or ''}"
        )
    print(f"{len(rows)} disparo(s)", file=sys.stderr)
    return 0


def _dlq_redrive(args: argparse.Namespace) -> int:
    with connection() as conn:
        result = redrive(
            conn,
            tenant_id=_tenant_id(conn, args.tenant),
            disparo_ids=_uuids(args.ids),
            since=_time(args.since, "since"),
            until=_time(args.until, "until"),
            canal=args.canal,
        )
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        why = " (o lead já tem disparo ativo na campanha; ficam na DLQ)" if result.skipped else ""
        print(f"{result.redriven} disparo(s) devolvido(s) para pendente · {result.skipped} ignorado(s){why}")
    return 0
