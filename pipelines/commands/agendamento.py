"""`agendamento create|list|show|realizado|cancel|reschedule|send-reminders|feed-url|set-slot|calendar-sync`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pipelines.core.agenda import agendamentos as ag
from pipelines.core.common.db import connection
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser(
        "agendamento", help="agendamentos (callbacks e reuniões), lembretes e feed de calendário"
    )
    asub = a.add_subparsers(dest="agendamento_command", metavar="AÇÃO")
    asub.required = True

    def cmd(name: str, help: str, func: Any, *, tenant: bool = True) -> argparse.ArgumentParser:
        p = asub.add_parser(name, help=help)
        if tenant:
            p.add_argument("--tenant", required=True, help="slug do tenant")
        p.add_argument("--json", action="store_true", help="saída em JSON")
        p.set_defaults(func=func)
        return p

    p = cmd("create", "cria um agendamento para um lead", _create)
    p.add_argument("lead_id")
    p.add_argument("--tipo", required=True, choices=ag.TIPOS)
    p.add_argument("--canal", required=True, choices=ag.CANAIS)
    p.add_argument(
        "--data", required=True, help="ISO-8601; sem offset = fuso do tenant (ex.: 2026-11-27T14:00)"
    )
    p.add_argument("--observacoes")
    p.add_argument("--responsavel", help="e-mail ou telefone de quem da equipe deve agir")
    p.add_argument("--lembrete-minutos", type=int)
    p.add_argument(
        "--lembrete-lead", action="store_true", help="o lead consentiu em receber lembrete (reunião)"
    )
    p.add_argument("--forcar", action="store_true", help="ignora conflito de horário do responsável")

    p = cmd("list", "lista agendamentos", _list)
    p.add_argument("--de")
    p.add_argument("--ate")
    p.add_argument("--status", choices=ag.STATUSES)
    p.add_argument("--lead")
    p.add_argument("--responsavel")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)

    p = cmd("show", "mostra um agendamento com seus lembretes", _show)
    p.add_argument("agendamento_id")

    p = cmd("realizado", "marca como realizado", _realizado)
    p.add_argument("agendamento_id")

    p = cmd("cancel", "cancela (motivo obrigatório)", _cancel)
    p.add_argument("agendamento_id")
    p.add_argument("--motivo", required=True)

    p = cmd("reschedule", "muda o horário (versao + 1; lembretes replanejados)", _reschedule)
    p.add_argument("agendamento_id")
    p.add_argument("--data", required=True)
    p.add_argument("--lembrete-minutos", type=int)
    p.add_argument("--forcar", action="store_true")

    p = cmd(
        "send-reminders",
        "envia agora os lembretes devidos (sem Dagster) e sincroniza o calendário",
        _send,
        tenant=False,
    )
    p.add_argument("--once", action="store_true", help="uma varredura (padrão)")
    p.add_argument("--time-budget", type=float, default=30.0, help="segundos no máximo")

    p = cmd("feed-url", "URL do feed iCalendar para assinar num app de calendário", _feed_url)
    p.add_argument("--responsavel", help="só os agendamentos deste responsável")
    p.add_argument("--base-url", default="http://127.0.0.1:8000", help="endereço público da API")

    p = cmd("set-slot", "minutos de um horário para conflito do responsável ('padrao' = env/30)", _set_slot)
    p.add_argument("minutos")

    p = cmd(
        "calendar-sync",
        "sincroniza eventos de calendário pendentes (inclui os que desistiram)",
        _calendar_sync,
    )


def _print(doc: Any, as_json: bool, line: str | None = None) -> None:
    if as_json or line is None:
        print(json.dumps(doc, ensure_ascii=False, indent=None if as_json else 2))
    else:
        print(line)


def _line(d: dict[str, Any]) -> str:
    resp = f"  resp={d['responsavel']}" if d["responsavel"] else ""
    return f"{d['agendamento_id']}  {d['status']:<9} {d['tipo']:<8} {d['canal']:<8} {d['data_agendada_local']}{resp}"


def _create(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        doc = ag.create_agendamento(
            conn,
            tenant,
            args.lead_id,
            tipo=args.tipo,
            canal=args.canal,
            data_agendada=args.data,
            observacoes=args.observacoes,
            responsavel=args.responsavel,
            lembrete_minutos=args.lembrete_minutos,
            lembrete_lead=args.lembrete_lead,
            forcar=args.forcar,
        )
    _print(doc, args.json, _line(doc))
    return 0


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        page = ag.list_agendamentos(
            conn, tenant, de=args.de, ate=args.ate, status=args.status, lead_id=args.lead,
            responsavel=args.responsavel, limit=args.limit, offset=args.offset,
        )  # fmt: skip
    if args.json:
        _print(page, True)
    else:
        for d in page["items"]:
            print(_line(d))
        print(f"{len(page['items'])} de {page['total']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with connection() as conn:
        doc = ag.get_agendamento(conn, get_tenant_by_slug(conn, args.tenant), args.agendamento_id)
    _print(doc, args.json)
    return 0


def _realizado(args: argparse.Namespace) -> int:
    with connection() as conn:
        doc = ag.mark_realizado(conn, get_tenant_by_slug(conn, args.tenant), args.agendamento_id)
    _print(doc, args.json, _line(doc))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with connection() as conn:
        doc = ag.cancel_agendamento(
            conn, get_tenant_by_slug(conn, args.tenant), args.agendamento_id, args.motivo
        )
    _print(doc, args.json, _line(doc))
    return 0


def _reschedule(args: argparse.Namespace) -> int:
    with connection() as conn:
        doc = ag.reschedule_agendamento(
            conn, get_tenant_by_slug(conn, args.tenant), args.agendamento_id, args.data,
            forcar=args.forcar, lembrete_minutos=args.lembrete_minutos,
        )  # fmt: skip
    _print(doc, args.json, _line(doc) + f"  (versão {doc['versao']})")
    return 0


def _send(args: argparse.Namespace) -> int:
    from pipelines.core.agenda.lembretes import send_due_reminders

    stats = send_due_reminders(time_budget_s=args.time_budget)
    _print(stats, args.json, " ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


def _feed_url(args: argparse.Namespace) -> int:
    from pipelines.core.agenda.ics import feed_url

    with connection() as conn:
        doc = feed_url(conn, get_tenant_by_slug(conn, args.tenant), args.base_url, args.responsavel)
    _print(doc, args.json, doc["url"])
    return 0


def _set_slot(args: argparse.Namespace) -> int:
    from pipelines.core.common.errors import ValidationError

    minutos: int | None
    if args.minutos in ("padrao", "padrão", "default"):
        minutos = None
    else:
        try:
            minutos = int(args.minutos)
        except ValueError:
            raise ValidationError(f"minutos inválido: {args.minutos!r} (um inteiro ou 'padrao')") from None
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        ag.set_slot_minutes(conn, tenant.id, minutos)
        atual = ag.slot_minutes(conn, tenant.id)
    _print(
        {"agendamento_slot_minutos": minutos, "efetivo": atual}, args.json, f"intervalo efetivo: {atual} min"
    )
    return 0


def _calendar_sync(args: argparse.Namespace) -> int:
    from pipelines.core.agenda.calendar_sync import sync_calendar
    from pipelines.core.common.errors import ConfigError
    from pipelines.core.common.settings import Settings

    settings = Settings.from_env()
    if not settings.mcp_calendar_endpoint:
        raise ConfigError("MCP_CALENDAR_ENDPOINT não configurado")
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        with conn.transaction():  # give up-on rows another chance
            conn.execute(
                """UPDATE agendamentos SET calendar_proxima_em = now(), calendar_tentativas = 0
                   WHERE tenant_id = %s AND calendar_status = 'erro' AND calendar_proxima_em IS NULL""",
                (tenant.id,),
            )
        stats = sync_calendar(conn, settings, tenant_id=tenant.id, limit=1000)
    _print(stats, args.json, " ".join(f"{k}={v}" for k, v in stats.items()))
    return 0
