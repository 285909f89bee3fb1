"""`optout add|remove|list|import`: the suppression list (canal + destino)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipelines.core.common.db import connection
from pipelines.core.disparos import optouts
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 42


def register(sub: argparse._SubParsersAction) -> None:
    o = sub.add_parser("optout", help="lista de opt-out (destinos que não devem ser contatados)")
    osub = o.add_subparsers(dest="optout_command", metavar="AÇÃO")
    osub.required = True

    def cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p = osub.add_parser(name, help=help)
        p.add_argument("--tenant", required=True, help="slug do tenant")
        p.add_argument("--json", action="store_true", help="saída em JSON")
        p.set_defaults(func=func)
        return p

    p = cmd("add", "adiciona um destino (telefone é normalizado para E.164, e-mail para minúsculas)", _add)
    p.add_argument("destino")
    p.add_argument("--canal", required=True, choices=CANAIS)
    p.add_argument("--motivo")

    p = cmd("remove", "remove um destino da lista", _remove)
    p.add_argument("destino")
    p.add_argument("--canal", required=True, choices=CANAIS)

    p = cmd("list", "lista os opt-outs (paginado)", _list)
    p.add_argument("--canal", choices=CANAIS)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)

    p = cmd(
        "import",
        "importa um CSV (cabeçalho destino|telefone|email[,canal][,motivo]) ou uma lista, um destino por linha",
        _import,
    )
    p.add_argument("arquivo", type=Path)
    p.add_argument(
        "--canal", choices=CANAIS, help="canal de todas as linhas (senão: '@' = email, resto = whatsapp)"
    )
    p.add_argument("--motivo")


def _add(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        row, created = optouts.add_optout(conn, tenant.id, args.canal, args.destino, args.motivo)
    if args.json:
        print(json.dumps({**row, "criado": created}, ensure_ascii=False))
    else:
        print(f"{row['canal']} {row['destino']}: " + ("adicionado" if created else "já estava na lista"))
    return 0


def _remove(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        optouts.remove_optout(conn, tenant.id, args.canal, args.destino)
    print("removido")
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        page = optouts.list_optouts(conn, tenant.id, canal=args.canal, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, ensure_ascii=False))
        return 0
    for r in page["items"]:
        print(f"{r['canal']:<8} {r['destino']:<40} {r['created_at'][:19]}  {r['motivo'] or ''}")
    print(f"{len(page['items'])} de {page['total']}")
    return 0


def _import(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        result = optouts.import_optouts(conn, tenant.id, args.arquivo, canal=args.canal, motivo=args.motivo)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"{result['linhas']} linhas: {result['importados']} importados, {result['ja_existentes']} já existentes, "
            f"{result['invalidos']} inválidos"
        )
        for bad in result["linhas_invalidas"]:
            print(f"  linha {bad['linha']}: destino inválido {bad['destino_raw']!r}")
    return 0
