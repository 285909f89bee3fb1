"""`relatorio funil`: the delivery funnel of one tenant, read from the DuckDB mart (built by Dagster's
`mart_diario` job, or here with `relatorio construir`)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from pipelines.core.common.convert import parse_uuid
from pipelines.core.common.db import connection, database_url
from pipelines.core.common.errors import ValidationError
from pipelines.core.common.settings import Settings
from pipelines.core.reports import funil
from pipelines.core.reports.build import SUBJECTS, build_day, run_in_background_priority
from pipelines.core.reports.mart import Mart, refresh_catalog
from pipelines.core.tenancy.tenants import get_tenant_by_slug

ORDER = 60
MAX_CONSTRUIR_DIAS = 92


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("relatorio", help="relatórios do mart DuckDB (funil de entrega)")
    rsub = r.add_subparsers(dest="relatorio_command", metavar="RELATÓRIO")
    rsub.required = True

    p = rsub.add_parser("funil", help="funil de entrega por dia × canal × campanha")
    p.add_argument("--tenant", required=True, help="slug do tenant")
    p.add_argument("--de", type=_date, help="primeiro dia AAAA-MM-DD (padrão: 30 dias até --ate)")
    p.add_argument("--ate", type=_date, help="último dia AAAA-MM-DD, inclusive (padrão: hoje)")
    p.add_argument("--canal", choices=funil.CANAIS)
    p.add_argument("--campanha", help="campanha_id")
    p.add_argument("--formato", choices=("tabela", *funil.FORMATOS), default="tabela")
    p.add_argument("-o", "--output", type=Path, help="arquivo de saída (obrigatório para parquet)")
    p.set_defaults(func=_funil)

    p = rsub.add_parser(
        "construir", help="constrói dias do mart sem o Dagster (o mesmo que o job mart_diario)"
    )
    p.add_argument("--dia", type=_date, required=True, help="dia AAAA-MM-DD (ou o primeiro, com --ate)")
    p.add_argument("--ate", type=_date, help="último dia, inclusive")
    p.set_defaults(func=_construir)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"data inválida {text!r}; use AAAA-MM-DD") from None


def _funil(args: argparse.Namespace) -> int:
    if args.formato == "parquet" and args.output is None:
        raise ValidationError("--formato parquet precisa de -o ARQUIVO", field="output")
    campanha = parse_uuid(args.campanha, "campanha") if args.campanha else None
    with connection() as conn:
        tenant = get_tenant_by_slug(conn, args.tenant)
        f = funil.filtro(args.de, args.ate, args.canal, campanha, hoje=datetime.now(tenant.tz).date())
        funil.ensure_campanha(conn, tenant.id, f.campanha_id)
    table = funil.read(Mart.under(Settings.from_env().home), tenant.id, f)
    if args.formato == "parquet":
        args.output.write_bytes(funil.to_parquet(table))
        print(f"{table.num_rows} linhas em {args.output}", file=sys.stderr)
        return 0
    if args.formato == "json":
        text = json.dumps(funil.document(table, f), ensure_ascii=False, indent=2) + "\n"
    elif args.formato == "csv":
        text = funil.to_csv(table)
    else:
        text = _table(table)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _table(table) -> str:
    if table.num_rows == 0:
        return "nenhum dado no mart para o filtro (o dia já foi construído? veja `relatorio construir`)\n"
    cols = ["dia", "canal", "campanha_id", "criados", "enviados", "confirmados", "erro", "bloqueado", "dlq",
            "taxa_falha", "tempo_ate_envio_p95_s"]  # fmt: skip
    rows = table.select(cols).to_pylist()

    def fmt(c: str, v: object) -> str:
        if v is None:
            return "-"
        if c == "taxa_falha":
            return f"{v:.1%}"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    cells = [cols] + [[fmt(c, r[c]) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in cells
    )


def _construir(args: argparse.Namespace) -> int:
    ate = args.ate or args.dia
    if ate < args.dia:
        raise ValidationError("--ate é antes de --dia", field="ate")
    if (ate - args.dia).days + 1 > MAX_CONSTRUIR_DIAS:
        raise ValidationError(f"no máximo {MAX_CONSTRUIR_DIAS} dias por vez", field="ate")
    mart = Mart.under(Settings.from_env().home)
    url = database_url()
    run_in_background_priority()
    dia = args.dia
    with connection(url) as conn:
        while dia <= ate:
            for subject in SUBJECTS:
                result = build_day(conn, url, mart, subject, dia, threads=1)
                print(f"{dia} {subject}: {result.linhas} ({result.tempos_s['total']} s)")
            dia += timedelta(days=1)
    refresh_catalog(mart)
    return 0
