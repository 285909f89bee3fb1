"""`tenant create|list|show|set|webhook-secret|ics-rotate|key-create|key-revoke|key-list`."""

from __future__ import annotations

import argparse
import json

from pipelines.core.common.db import connection
from pipelines.core.tenancy import tenants

ORDER = 2


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tenant", help="tenants (empresas) e chaves de API")
    tsub = t.add_subparsers(dest="tenant_command", metavar="AÇÃO")
    tsub.required = True

    p = tsub.add_parser("create", help="cria um tenant e mostra sua chave de API (uma única vez)")
    p.add_argument("slug")
    p.add_argument("--nome")
    p.add_argument("--timezone", default="America/Sao_Paulo")
    p.add_argument("--json", action="store_true", help='imprime {"tenant_id", "slug", "api_key"}')
    p.set_defaults(func=_create)

    p = tsub.add_parser("list", help="lista os tenants")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = tsub.add_parser("show", help="mostra as configurações de um tenant")
    p.add_argument("slug")
    p.set_defaults(func=_show)

    p = tsub.add_parser("set", help="altera configurações (fuso, janela de envio, limites, canal da equipe)")
    p.add_argument("slug")
    p.add_argument("--nome")
    p.add_argument("--timezone")
    p.add_argument(
        "--janela-envio",
        help='JSON, ex.: \'{"seg": [["08:00","20:00"]], "sab": [["08:00","14:00"]]}\'; "null" remove',
    )
    p.add_argument("--rate-limit-whatsapp", type=float, help="mensagens/s")
    p.add_argument("--rate-limit-email", type=float, help="mensagens/s")
    p.add_argument("--lembrete-minutos", type=int, dest="lembrete_minutos_padrao")
    p.add_argument("--equipe-canal", choices=["email", "whatsapp"])
    p.add_argument("--equipe-destino")
    p.add_argument(
        "--agendamento-slot-minutos", type=int, help="janela de conflito de agenda por responsável"
    )
    p.add_argument(
        "--webhook-url",
        help="URL (http/https) que recebe os eventos do tenant, assinados com o segredo do tenant; '' remove",
    )
    p.add_argument(
        "--retencao-dias",
        type=int,
        help="dias que planilhas guardadas, rejeições e eventos entregues são mantidos (padrão 90)",
    )
    p.set_defaults(func=_set)

    p = tsub.add_parser(
        "webhook-secret",
        help="mostra (ou troca, com --rotate) o segredo HMAC dos recibos MCP e dos feeds .ics",
    )
    p.add_argument("slug")
    p.add_argument(
        "--rotate", action="store_true", help="gera um novo segredo (invalida os links .ics atuais)"
    )
    p.set_defaults(func=_webhook_secret)

    p = tsub.add_parser(
        "ics-rotate", help="revoga todos os links .ics do tenant (gere novos com `agendamento feed-url`)"
    )
    p.add_argument("slug")
    p.set_defaults(func=_ics_rotate)

    p = tsub.add_parser("key-create", help="cria mais uma chave de API")
    p.add_argument("slug")
    p.add_argument("--nome")
    p.set_defaults(func=_key_create)

    p = tsub.add_parser(
        "key-revoke", help="revoga uma chave (dak_<prefixo> como o key-list mostra, ou a chave)"
    )
    p.add_argument("slug")
    p.add_argument("chave", help="dak_<prefixo>_…, dak_<prefixo>, só o prefixo, ou a chave inteira")
    p.set_defaults(func=_key_revoke)

    p = tsub.add_parser("key-list", help="lista as chaves (só os prefixos)")
    p.add_argument("slug")
    p.set_defaults(func=_key_list)


def _create(args: argparse.Namespace) -> int:
    from pipelines.core.common.settings import Settings
    from pipelines.core.ingest.inbox import tenant_inbox

    with connection() as conn:
        tenant, key = tenants.create_tenant(conn, args.slug, args.nome, timezone=args.timezone)
    inbox = tenant_inbox(Settings.from_env(), tenant.slug)  # the drop folder the inbox sensor watches
    if args.json:
        print(json.dumps({"tenant_id": str(tenant.id), "slug": tenant.slug, "api_key": key}))
    else:
        print(f"tenant_id: {tenant.id}")
        print(f"slug:      {tenant.slug}")
        print(f"api_key:   {key}")
        print(f"inbox:     {inbox}  (planilhas soltas aqui são ingeridas)")
        print("guarde a chave agora: ela não será mostrada de novo")
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        rows = tenants.list_tenants(conn)
    if args.json:
        print(json.dumps([t.as_dict() for t in rows], ensure_ascii=False))
    else:
        for t in rows:
            print(f"{t.slug:<24} {t.id}  {t.nome}  ({t.timezone})")
        if not rows:
            print("nenhum tenant; crie com `disparo-agenda tenant create SLUG`")
    return 0


def _show(args: argparse.Namespace) -> int:
    with connection() as conn:
        print(json.dumps(tenants.get_tenant_by_slug(conn, args.slug).as_dict(), ensure_ascii=False, indent=2))
    return 0


def _set(args: argparse.Namespace) -> int:
    changes = {
        k: getattr(args, k)
        for k in (
            "nome", "timezone", "rate_limit_whatsapp", "rate_limit_email",
            "lembrete_minutos_padrao", "equipe_canal", "equipe_destino", "agendamento_slot_minutos",
            "webhook_url", "retencao_dias",
        )
        if getattr(args, k) is not None
    }  # fmt: skip
    if args.janela_envio is not None:
        try:
            changes["janela_envio"] = json.loads(args.janela_envio)
        except json.JSONDecodeError as exc:
            from pipelines.core.common.errors import ValidationError

            raise ValidationError(f"--janela-envio não é JSON válido: {exc.msg}") from exc
    with connection() as conn:
        tenant = tenants.update_tenant(conn, args.slug, **changes)
    print(json.dumps(tenant.as_dict(), ensure_ascii=False, indent=2))
    return 0


def _webhook_secret(args: argparse.Namespace) -> int:
    with connection() as conn:
        if args.rotate:
            print(tenants.rotate_webhook_secret(conn, args.slug))
        else:
            print(tenants.get_webhook_secret(conn, tenants.get_tenant_by_slug(conn, args.slug).id))
    return 0


def _ics_rotate(args: argparse.Namespace) -> int:
    from pipelines.core.agenda.ics import rotate_feed_tokens

    with connection() as conn:
        rotate_feed_tokens(conn, tenants.get_tenant_by_slug(conn, args.slug).id)
    print(f"links .ics revogados; gere novos com `disparo-agenda agendamento feed-url --tenant {args.slug}`")
    return 0


def _key_create(args: argparse.Namespace) -> int:
    with connection() as conn:
        print(tenants.create_api_key(conn, args.slug, args.nome))
    return 0


def _key_revoke(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenants.revoke_api_key(conn, args.slug, args.chave)
    print("chave revogada")
    return 0


def _key_list(args: argparse.Namespace) -> int:
    with connection() as conn:
        for k in tenants.list_api_keys(conn, args.slug):
            estado = f"revogada em {k['revogada_em']:%Y-%m-%d %H:%M}" if k["revogada_em"] else "ativa"
            print(f"dak_{k['prefixo']}_…  {k['nome'] or '':<12} criada {k['created_at']:%Y-%m-%d}  {estado}")
    return 0
