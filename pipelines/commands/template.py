"""`template create|list|show|update|delete`: message templates with {{variavel}} placeholders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipelines.core.common.db import connection
from pipelines.core.disparos import templates
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("template", help="templates de mensagem ({{variavel}}) por canal")
    tsub = t.add_subparsers(dest="template_command", metavar="AÇÃO")
    tsub.required = True

    def cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p = tsub.add_parser(name, help=help)
        p.add_argument("--tenant", required=True, help="slug do tenant")
        p.add_argument("--json", action="store_true", help="saída em JSON")
        p.set_defaults(func=func)
        return p

    p = cmd("create", "cria um template", _create)
    p.add_argument("nome")
    p.add_argument("--canal", required=True, choices=CANAIS)
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--corpo", help="texto com {{variavel}}")
    body.add_argument("--corpo-arquivo", type=Path, help="lê o corpo de um arquivo (UTF-8)")
    p.add_argument("--assunto", help="obrigatório para e-mail; aceita {{variavel}}")
    p.add_argument("--whatsapp-template-id")

    p = cmd("list", "lista os templates", _list)
    p.add_argument("--canal", choices=CANAIS)

    p = cmd("show", "mostra um template (por id ou nome)", _show)
    p.add_argument("template")
    p.add_argument("--canal", choices=CANAIS)

    p = cmd("update", "altera um template (só os campos informados)", _update)
    p.add_argument("template")
    p.add_argument("--canal", choices=CANAIS, help="para achar o template pelo nome")
    p.add_argument("--nome", dest="novo_nome")
    p.add_argument("--corpo")
    p.add_argument("--assunto")
    p.add_argument("--whatsapp-template-id")

    p = cmd("delete", "apaga um template (disparos já criados não mudam)", _delete)
    p.add_argument("template")
    p.add_argument("--canal", choices=CANAIS)


def _print(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
        return
    print(f"{doc['template_id']}  [{doc['canal']}] {doc['nome']}")
    if doc.get("assunto"):
        print(f"  assunto:   {doc['assunto']}")
    if doc.get("whatsapp_template_id"):
        print(f"  whatsapp_template_id: {doc['whatsapp_template_id']}")
    print(f"  variáveis: {', '.join(doc['variaveis']) or '-'}")
    print("  corpo:     " + doc["corpo"].replace("\n", "\n             "))


def _create(args: argparse.Namespace) -> int:
    corpo = args.corpo if args.corpo is not None else args.corpo_arquivo.read_text(encoding="utf-8")
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        doc = templates.create_template(
            conn, tenant.id, nome=args.nome, canal=args.canal, corpo=corpo, assunto=args.assunto,
            whatsapp_template_id=args.whatsapp_template_id,
        )  # fmt: skip
    _print(doc, args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        rows = templates.list_templates(conn, tenant.id, args.canal)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r['template_id']}  {r['canal']:<8} {r['nome']:<30} {', '.join(r['variaveis'])}")
    if not rows:
        print("nenhum template; crie com `disparo-agenda template create NOME --canal whatsapp --corpo ...`")
    return 0


def _show(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        _print(templates.resolve_template(conn, tenant.id, args.template, args.canal), args.json)
    return 0


def _update(args: argparse.Namespace) -> int:
    changes = {
        k: v
        for k, v in {
            "nome": args.novo_nome, "corpo": args.corpo, "assunto": args.assunto,
            "whatsapp_template_id": args.whatsapp_template_id,
        }.items()
        if v is not None
    }  # fmt: skip
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        current = templates.resolve_template(conn, tenant.id, args.template, args.canal)
        _print(templates.update_template(conn, tenant.id, current["template_id"], **changes), args.json)
    return 0


def _delete(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        current = templates.resolve_template(conn, tenant.id, args.template, args.canal)
        templates.delete_template(conn, tenant.id, current["template_id"])
    print(f"template {current['nome']} ({current['canal']}) apagado")
    return 0
