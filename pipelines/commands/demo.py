"""`demo`: the whole flow on the embedded defaults — migrate, tenant, a generated messy sheet ingested,
a WhatsApp campaign sent through the MCP simulator, an agendamento with its reminder — then how to go on."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from pipelines.core.common.db import connection, database_url
from pipelines.core.common.errors import NotFoundError
from pipelines.core.common.migrate import migrate
from pipelines.core.common.settings import Settings

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="roda o fluxo completo no banco embutido (planilha → leads → disparos → agenda)"
    )
    p.add_argument("--rows", type=int, default=5000, help="linhas da planilha gerada (padrão 5000)")
    p.add_argument("--tenant", default="demo")
    p.set_defaults(func=_demo)


def _step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    from pipelines.commands.ingest import ProgressBar
    from pipelines.core.agenda.agendamentos import create_agendamento
    from pipelines.core.agenda.lembretes import send_due_reminders
    from pipelines.core.common.filestore import store_file
    from pipelines.core.disparos.campanhas import create_campanha, get_campanha
    from pipelines.core.disparos.templates import create_template, find_template
    from pipelines.core.ingest import create_job, run_job
    from pipelines.core.ingest.inbox import tenant_inbox
    from pipelines.core.send.engine import send_due
    from pipelines.core.tenancy import tenants
    from pipelines.mcp_sim import SimConfig, run_in_thread
    from pipelines.sample_sheet import generate

    settings = Settings.from_env()
    _step(1, "Banco de dados")
    url = database_url(settings)
    print(
        f"    {'DATABASE_URL' if settings.database_url else 'PostgreSQL embutido em ' + str(settings.home / 'pg')}"
    )
    for name in migrate(url):
        print(f"    migração aplicada: {name}")

    _step(2, f"Tenant {args.tenant!r}")
    with connection(url) as conn:
        try:
            tenant = tenants.get_tenant_by_slug(conn, args.tenant)
            key = tenants.create_api_key(conn, args.tenant, "demo")
            print("    já existia; nova chave de API criada")
        except NotFoundError:
            tenant, key = tenants.create_tenant(conn, args.tenant, "Empresa Demonstração")
            print(f"    criado: {tenant.id}")
        # the demo sends everything at once: no send window, a generous rate limit, a team e-mail
        tenant = tenants.update_tenant(
            conn, args.tenant, janela_envio=None, rate_limit_whatsapp=500, rate_limit_email=500,
            equipe_canal="email", equipe_destino="equipe@demo.example",
        )  # fmt: skip

    _step(3, f"Planilha de exemplo com {args.rows} linhas (bagunçada de propósito)")
    sheet = settings.home / "demo" / "Leads_Organizados.xlsx"
    generate(sheet, args.rows, seed=int(time.time()) % 1000)
    print(f"    {sheet}")

    _step(4, "Ingestão: ler → validar → normalizar → COPY → upsert")
    stored, sha = store_file(settings, sheet, sheet.name)
    with connection(url) as conn:
        job_id = create_job(conn, tenant.id, sheet.name, str(stored), origem="cli", arquivo_sha256=sha)
    doc = run_job(url, job_id, progress=ProgressBar())
    print(
        f"    job {doc['job_id']} {doc['status']}: {doc['leads_criados']} leads criados, "
        f"{doc['leads_atualizados']} atualizados, {doc['telefones_criados']} telefones, "
        f"{doc['emails_criados']} e-mails, {doc['linhas_rejeitadas']} linhas rejeitadas"
    )
    if doc["status"] != "concluido":
        print(f"    erro: {doc.get('mensagem_erro')}", file=sys.stderr)
        return 1

    _step(5, "Simulador MCP (dublê de testes do WhatsApp/E-mail) e campanha de WhatsApp")
    sim = run_in_thread(SimConfig(), port=0)
    os.environ["MCP_WHATSAPP_ENDPOINT"] = sim.url
    os.environ["MCP_EMAIL_ENDPOINT"] = sim.url
    try:
        with connection(url) as conn:
            if find_template(conn, tenant.id, "whatsapp", "boas_vindas") is None:
                create_template(
                    conn, tenant.id, nome="boas_vindas", canal="whatsapp",
                    corpo="Olá! Aqui é da {{empresa}}. Temos uma proposta para {{nome}}. Podemos conversar?",
                )  # fmt: skip
            camp = create_campanha(
                conn,
                tenant,
                {
                    "nome": f"demo {datetime.now(UTC):%Y-%m-%d %H:%M}",
                    "canal": "whatsapp",
                    "template": "boas_vindas",
                    "variaveis": {"empresa": "Empresa Demonstração"},
                    "filtro": {"ingest_job_id": str(job_id), "com_celular": True},
                },
            )
        print(
            f"    campanha {camp['campanha_id']}: {camp.get('criados', camp.get('total_disparos'))} disparos criados"
        )
        stats = send_due(
            url, canal="whatsapp", tenant_id=tenant.id, time_budget_s=120, settings=Settings.from_env()
        )
        print(
            f"    enviados {stats.enviados}, reenvios {stats.reenvios}, falhas {stats.falhas}, "
            f"bloqueados {stats.bloqueados} em {stats.duration_s:.1f}s ({stats.throughput:.0f}/s)"
        )
        with connection(url) as conn:
            por_status = get_campanha(conn, tenant.id, camp["campanha_id"]).get("contagens")
        print(f"    campanha por status: {por_status}")

        _step(6, "Agendamento de retorno com lembrete para a equipe")
        with connection(url) as conn:
            lead = conn.execute(
                "SELECT lead_id, nome FROM leads WHERE tenant_id = %s AND ingest_job_id = %s ORDER BY linha_planilha LIMIT 1",
                (tenant.id, job_id),
            ).fetchone()
            quando = datetime.now(UTC) + timedelta(minutes=2)
            ag = create_agendamento(
                conn, tenant, lead["lead_id"], tipo="callback", canal="telefone",
                data_agendada=quando.isoformat(), observacoes="Cliente prefere contato à tarde.",
                responsavel="vendas@demo.example", lembrete_minutos=5, forcar=True,
            )  # fmt: skip
        lembretes = send_due_reminders(url, time_budget_s=20, settings=Settings.from_env())
        print(f"    agendamento {ag['agendamento_id']} para {lead['nome']} em {ag['data_agendada']}")
        print(f"    lembretes: {lembretes}")
    finally:
        sim.stop()

    inbox = tenant_inbox(settings, args.tenant)
    print(
        f"""
Pronto. Próximos passos, nesta ordem:
  chave de API do tenant {args.tenant!r} (mostrada uma vez): {key}

  1. Suba tudo (UI do Dagster, daemon, API e o simulador MCP como destino dos envios) num terminal;
     Ctrl-C para parar:
       .venv/bin/disparo-agenda dev --mcp-sim
  2. Noutro terminal, quando a API responder (http://127.0.0.1:8000/health):
       curl -H 'Authorization: Bearer {key}' 'http://127.0.0.1:8000/leads?limit=5'
       curl -H 'Authorization: Bearer {key}' http://127.0.0.1:8000/ingest/leads/jobs
  3. Solte uma planilha na inbox do tenant; o Dagster a ingere em segundos:
       cp minha_planilha.xlsx {inbox}/
       .venv/bin/disparo-agenda ingest list --tenant {args.tenant}
     (ou ingira direto, sem o Dagster: .venv/bin/disparo-agenda ingest minha_planilha.xlsx --tenant {args.tenant})
  4. UI do Dagster: http://127.0.0.1:3000 (runs, sensores, checks da ingestão)
"""
    )
    return 0
