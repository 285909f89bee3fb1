"""`ingest FILE --tenant SLUG [--sheet Leads] [--json]`: synchronous ingest with a progress bar on stderr;
`ingest list [--tenant SLUG] [--status S] [--json]`: ingest jobs, however they were started;
`ingest retry JOB_ID [--json]`: run again, here and now, a job that failed, was left pendente or lost
its runner."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pipelines.core.common.convert import parse_uuid
from pipelines.core.common.db import connection, database_url
from pipelines.core.common.errors import ConflictError, ValidationError
from pipelines.core.common.filestore import store_file
from pipelines.core.common.settings import Settings
from pipelines.core.ingest import check_supported, create_job, run_job
from pipelines.core.ingest.jobs import STATUSES, list_jobs
from pipelines.core.ingest.runs import retry_job
from pipelines.core.tenancy import tenants

ORDER = 3


USAGE = """disparo-agenda ingest ARQUIVO --tenant SLUG [--sheet ABA] [--json]
       disparo-agenda ingest list [--tenant SLUG] [--status S] [--limit N] [--json]
       disparo-agenda ingest retry JOB_ID [--tenant SLUG] [--json]"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingere uma planilha de leads (.xlsx, .xlsm, .xls, .ods, .csv); `ingest list` lista os jobs; "
        "`ingest retry JOB_ID` roda de novo um job que falhou ou parou",
        usage=USAGE,
        description="Ingere uma planilha agora (ARQUIVO; um arquivo chamado 'list' ou 'retry' vai como "
        "./list), lista os jobs de ingestão, venham da CLI, da API, da inbox ou do Dagster (list), ou roda "
        "de novo, aqui e agora, um job em erro, esquecido em pendente ou cujo processo morreu (retry).",
    )
    p.add_argument("alvo", nargs="+", metavar="ARQUIVO | list | retry JOB_ID")
    p.add_argument("--tenant", metavar="SLUG", help="obrigatório ao ingerir; em list e retry, restringe")
    p.add_argument("--sheet", default="Leads", metavar="ABA", help="aba da planilha (padrão: Leads)")
    p.add_argument("--status", choices=STATUSES, help="list: só jobs neste status")
    p.add_argument("--limit", type=int, default=50, help="list: quantos jobs (padrão 50)")
    p.add_argument(
        "--json",
        action="store_true",
        help="ingerir e retry: o documento do job (como GET /ingest/leads/jobs/{id}); list: a lista em JSON",
    )
    p.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    action, *rest = args.alvo
    if action == "list":
        if rest:
            raise ValidationError(f"argumento a mais para `ingest list`: {' '.join(rest)}")
        return _list(args)
    if action == "retry":
        if len(rest) != 1:
            raise ValidationError("use `disparo-agenda ingest retry JOB_ID`", field="job_id")
        return _retry(args, rest[0])
    if rest:
        raise ValidationError(f"um arquivo por vez: {' '.join(args.alvo)}", field="arquivo")
    if not args.tenant:
        raise ValidationError("informe o tenant: --tenant SLUG", field="tenant")
    args.file = action
    return _ingest(args)


class ProgressBar:
    """A plain-text bar on stderr, redrawn at most every 0.2 s (and always at the end)."""

    def __init__(self, stream=None, width: int = 30) -> None:
        # sys.stderr looked up now, not at import: it may have been replaced since (pytest capture)
        self.stream, self.width, self._last, self._done = stream or sys.stderr, width, 0.0, False

    def __call__(self, done: int, total: int) -> None:
        if self._done:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:4.0%} {done:,}/{total:,} linhas".replace(",", "."))
        if done >= total:
            self._done = True
            self.stream.write("\n")
        self.stream.flush()


def _ingest(args: argparse.Namespace) -> int:
    src = Path(args.file)
    check_supported(src.name)
    if not src.is_file():
        raise ValidationError(f"arquivo não encontrado: {src}", field="arquivo")
    settings = Settings.from_env()
    url = database_url(settings)
    with connection(url) as conn:
        tenant = tenants.get_tenant_by_slug(conn, args.tenant)
        stored, sha = store_file(settings, src, src.name)
        job_id = create_job(
            conn, tenant.id, src.name, str(stored), aba=args.sheet, origem="cli", arquivo_sha256=sha
        )
    return _report(run_job(url, job_id, progress=ProgressBar()), args)


def _report(doc: dict, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    elif doc["status"] == "concluido":
        print(
            f"job {doc['job_id']} concluído: {doc['linhas_processadas']} linhas, "
            f"{doc['leads_criados']} leads criados, {doc['leads_atualizados']} atualizados, "
            f"{doc['telefones_criados']} telefones, {doc['emails_criados']} e-mails, "
            f"{doc['linhas_rejeitadas']} linhas rejeitadas"
        )
        for erro in doc["erros"]:
            linhas = ", ".join(map(str, erro["primeiras_linhas"]))
            print(f"  rejeitadas: {erro['quantidade']} × {erro['motivo']} (linhas {linhas}…)")
        avisos = doc.get("avisos") or {}
        if avisos.get("linhas_fora_de_utf8"):
            linhas = ", ".join(map(str, avisos["linhas_fora_de_utf8_primeiras"]))
            print(
                f"aviso: {avisos['linhas_fora_de_utf8']} linha(s) não eram UTF-8 e foram lidas como CP1252 "
                f"(linhas {linhas}); confira-as",
                file=sys.stderr,
            )
    if doc["status"] != "concluido":
        print(f"erro: job {doc['job_id']} falhou: {doc['mensagem_erro']}", file=sys.stderr)
        return 1
    return 0


def _retry(args: argparse.Namespace, job_id: str) -> int:
    url = database_url(Settings.from_env())
    with connection(url) as conn:
        tenant_id = tenants.get_tenant_by_slug(conn, args.tenant).id if args.tenant else None
        job = retry_job(conn, tenant_id, parse_uuid(job_id, "job de ingestão"))
    try:
        doc = run_job(url, job["job_id"], progress=ProgressBar(), only_pending=True)
    except ConflictError:
        raise ConflictError(
            f"o job {job['job_id']} foi assumido por outro executor (o Dagster?) logo após voltar para "
            "pendente; acompanhe com `disparo-agenda ingest list`"
        ) from None
    return _report(doc, args)


def _list(args: argparse.Namespace) -> int:
    with connection() as conn:
        tenant_id = tenants.get_tenant_by_slug(conn, args.tenant).id if args.tenant else None
        docs, total = list_jobs(conn, tenant_id, status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps({"items": docs, "total": total}, ensure_ascii=False, indent=2))
        return 0
    if not docs:
        print("nenhum job de ingestão" + (f" com status {args.status}" if args.status else ""))
        return 0
    for doc in docs:
        linhas = (
            f"{doc['linhas_processadas']}/{doc['linhas_total'] if doc['linhas_total'] is not None else '?'}"
        )
        who = f"{doc['tenant']:<12} " if "tenant" in doc else ""
        print(
            f"{doc['criado_em']}  {who}{doc['status']:<11} {doc['origem']:<7} {linhas:>13} linhas  "
            f"{doc['job_id']}  {doc['arquivo_origem']}"
        )
        if doc["mensagem_erro"]:
            print(f"    erro: {doc['mensagem_erro']}")
    if total > len(docs):
        print(f"({len(docs)} de {total}; use --limit para ver mais)")
    return 0
