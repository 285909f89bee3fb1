"""`campanha create|list|show|apply|cancel|export`: one template to every lead matching a filter."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.core.common.db import connection
from pipelines.core.common.errors import ValidationError
from pipelines.core.disparos import campanhas
from pipelines.core.leads.records import LEAD_STATUSES
from pipelines.core.send.mcp import CANAIS
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 43


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("campanha", help="campanhas: um template para todos os leads de um filtro")
    csub = c.add_subparsers(dest="campanha_command", metavar="AÇÃO")
    csub.required = True

    def cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p = csub.add_parser(name, help=help)
        p.add_argument("--tenant", required=True, help="slug do tenant")
        p.add_argument("--json", action="store_true", help="saída em JSON")
        p.set_defaults(func=func)
        return p

    p = cmd("create", "cria a campanha e um disparo por lead do filtro (uma instrução SQL)", _create)
    p.add_argument("--template", required=True, help="nome do template")
    p.add_argument("--canal", required=True, choices=CANAIS)
    p.add_argument("--nome")
    p.add_argument("--var", action="append", default=[], metavar="NOME=VALOR", help="variável da campanha")
    p.add_argument("--status", action="append", choices=LEAD_STATUSES, help="status do lead (repetível)")
    p.add_argument("--job", help="ingest_job_id de origem dos leads")
    p.add_argument("--arquivo", help="arquivo de origem dos leads (origem_arquivo)")
    p.add_argument("--tag", action="append", help="o lead tem a tag (repetível: todas)")
    p.add_argument("--com-celular", action="store_true", help="só leads com celular válido")
    p.add_argument("--com-email", action="store_true", help="só leads com e-mail válido")
    p.add_argument("--inicio", help="ISO-8601; sem offset = fuso do tenant; padrão: agora")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--espalhar-minutos", type=int, help="distribui os envios ao longo de N minutos")
    g.add_argument("--taxa-por-minuto", type=int, help="N envios por minuto a partir do início")

    p = cmd("list", "lista as campanhas", _list)
    p = cmd("show", "mostra a campanha com contagens por status", _show)
    p.add_argument("campanha_id")
    p = cmd("apply", "reaplica o filtro: leads novos que casam recebem disparo", _apply)
    p.add_argument("campanha_id")
    p = cmd("cancel", "cancela a campanha e seus disparos pendentes", _cancel)
    p.add_argument("campanha_id")
    p = cmd("export", "exporta o resultado por lead em CSV", _export)
    p.add_argument("campanha_id")
    p.add_argument("-o", "--output", type=Path, help="arquivo de saída (padrão: stdout)")


def parse_vars(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"--var deve ser NOME=VALOR, recebido {item!r}", field="variaveis")
        out[name.strip()] = value
    return out


def _create(args: argparse.Namespace) -> int:
    filtro: dict[str, Any] = {}
    if args.status:
        filtro["status"] = args.status
    if args.job:
        filtro["ingest_job_id"] = args.job
    if args.arquivo:
        filtro["origem_arquivo"] = args.arquivo
    if args.tag:
        filtro["tags"] = args.tag
    if args.com_celular:
        filtro["com_celular"] = True
    if args.com_email:
        filtro["com_email"] = True
    body = {
        "canal": args.canal, "template": args.template, "nome": args.nome, "variaveis": parse_vars(args.var),
        "filtro": filtro, "inicio": args.inicio, "espalhar_minutos": args.espalhar_minutos,
        "taxa_por_minuto": args.taxa_por_minuto,
    }  # fmt: skip
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        result = campanhas.create_campanha(conn, tenant, {k: v for k, v in body.items() if v is not None})
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        ex = result["excluidos"]
        print(f"campanha_id: {result['campanha_id']}")
        print(
            f"disparos criados: {result['criados']} de {result['audiencia']} leads no filtro (início {result['inicio']})"
        )
        print(
            f"excluídos: sem destino {ex['sem_destino']}, opt-out {ex['optout']}, "
            f"variável ausente {ex['variavel_ausente']}, já em disparo ativo {ex['ja_em_disparo_ativo']}"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        page = campanhas.list_campanhas(conn, tenant.id, limit=500)
    if args.json:
        print(json.dumps(page, ensure_ascii=False))
        return 0
    for r in page["items"]:
        print(f"{r['campanha_id']}  {r['canal']:<8} {r['status']:<9} {r['total_disparos']:>8}  {r['nome']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        print(
            json.dumps(
                campanhas.get_campanha(conn, tenant.id, args.campanha_id),
                ensure_ascii=False,
                indent=None if args.json else 2,
            )
        )
    return 0


def _apply(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        print(json.dumps(campanhas.aplicar_campanha(conn, tenant, args.campanha_id), ensure_ascii=False))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        print(json.dumps(campanhas.cancelar_campanha(conn, tenant, args.campanha_id), ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        chunks = campanhas.export_csv(conn, tenant.id, args.campanha_id)
        if args.output:
            with args.output.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            print(f"escrito em {args.output}", file=sys.stderr)
        else:
            for chunk in chunks:
                sys.stdout.write(chunk.decode())
            sys.stdout.flush()
    return 0
