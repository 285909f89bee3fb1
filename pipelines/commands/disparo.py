"""`disparo create|list|show|cancel`: single disparos (the CLI twin of POST /leads/{lead_id}/disparos)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pipelines.commands.campanha import parse_vars
from pipelines.core.common.db import connection, database_url
from pipelines.core.disparos import single as disparos
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 41


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("disparo", help="disparos avulsos: cria, lista, mostra, cancela")
    dsub = d.add_subparsers(dest="disparo_command", metavar="AÇÃO")
    dsub.required = True

    def cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p = dsub.add_parser(name, help=help)
        p.add_argument("--tenant", required=True, help="slug do tenant")
        p.add_argument("--json", action="store_true", help="saída em JSON")
        p.set_defaults(func=func)
        return p

    p = cmd("create", "cria um disparo para um lead (imediato: envia já, salvo --nao-enviar)", _create)
    p.add_argument("lead_id")
    p.add_argument("--canal", required=True, choices=CANAIS)
    p.add_argument("--template", required=True)
    p.add_argument("--telefone-id")
    p.add_argument("--email-id")
    p.add_argument("--var", action="append", default=[], metavar="NOME=VALOR")
    p.add_argument("--agendar-para", help="ISO-8601; sem offset = fuso do tenant; padrão: agora")
    p.add_argument("--idempotency-key")
    p.add_argument("--nao-enviar", action="store_true", help="só cria; o sensor / `send --once` envia")

    p = cmd("list", "lista os disparos de um lead", _list)
    p.add_argument("lead_id")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=50)

    p = cmd("show", "mostra um disparo", _show)
    p.add_argument("disparo_id")

    p = cmd("cancel", "cancela um disparo pendente", _cancel)
    p.add_argument("disparo_id")


def _create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "canal": args.canal,
        "template": args.template,
        "payload": {"variaveis": parse_vars(args.var)},
    }
    if args.telefone_id:
        body["telefone_id"] = args.telefone_id
    if args.email_id:
        body["email_id"] = args.email_id
    if args.agendar_para:
        body["agendar_para"] = args.agendar_para
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        result, _created = disparos.create_disparo(
            conn, tenant, args.lead_id, body, idempotency_key=args.idempotency_key
        )
    if result.pop("imediato") and result["status"] == "pendente" and not args.nao_enviar:
        from pipelines.core.send.engine import send_due

        send_due(database_url(), disparo_ids=[result["disparo_id"]], time_budget_s=10.0)
        with connection() as conn:
            result["status"] = disparos.get_disparo(conn, tenant.id, result["disparo_id"])["status"]
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"disparo_id: {result['disparo_id']}  status: {result['status']}  agendado: {result['data_agendado']}"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        page = disparos.list_lead_disparos(
            conn, tenant.id, args.lead_id, status=args.status, limit=args.limit
        )
    if args.json:
        print(json.dumps(page, ensure_ascii=False))
        return 0
    for r in page["items"]:
        print(
            f"{r['disparo_id']}  {r['canal']:<8} {r['status']:<10} {r['data_agendado'][:19]}  {r['destino']}  {r['template']}"
        )
    print(f"{len(page['items'])} de {page['total']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        print(
            json.dumps(
                disparos.get_disparo(conn, tenant.id, args.disparo_id),
                ensure_ascii=False,
                indent=None if args.json else 2,
            )
        )
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        doc = disparos.cancel_disparo(conn, tenant.id, args.disparo_id)
    print(json.dumps(doc, ensure_ascii=False) if args.json else f"disparo {doc['disparo_id']} cancelado")
    return 0
