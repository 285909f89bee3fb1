"""The daily sweep: what each tenant keeps, for how long (`tenants.retencao_dias`, default 90), and the
DLQ digest for its team.

- **Ingest rejects** of jobs that ended more than `retencao_dias` ago are deleted (the job document keeps
  its `erros` summary and notes `avisos.rejeicoes_removidas_em`).
- **Stored sheets** (content-addressed, so one file may serve jobs of several tenants) are deleted when
  every job that uses them is past its tenant's retention; those jobs lose `arquivo_path`
  (`avisos.arquivo_removido_em`), so a retry or re-materialization says the file is gone.
- **Outbox events** older than the retention are deleted, delivered or not.
- **Reminders** whose agendamento passed without them, or was cancelled or moved, are closed (`expirado`,
  `cancelado`) — the reminder loop does it too; this covers installations where it is not running.
- **DLQ digest**: one message per tenant with dead-lettered disparos not re-driven (per canal: how many,
  how many arrived in the last day, the oldest, the most frequent errors), sent to the team channel through
  the MCP with an Idempotency-Key of the tenant and day (a re-run on the same day does not send twice)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from pipelines.core.agenda import lembretes
from pipelines.core.common.logs import timed
from pipelines.core.common.queries import query
from pipelines.core.common.settings import Settings
from pipelines.core.observability.team import no_team_channel, send_team_message

log = logging.getLogger(__name__)

EVENT_SLICE = 50_000  # outbox rows deleted per statement (short transactions on a big backlog)


@dataclass
class HousekeepingStats:
    rejeicoes_removidas: int = 0
    jobs_sem_rejeicoes: int = 0
    arquivos_removidos: int = 0
    bytes_liberados: int = 0
    eventos_removidos: int = 0
    lembretes: dict[str, int] = field(default_factory=dict)
    resumos_dlq: list[dict[str, Any]] = field(default_factory=list)  # per tenant: numbers and if it went

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now(conn: psycopg.Connection, now: datetime | None) -> datetime:
    return now or conn.execute("SELECT now() AS n").fetchone()["n"]


def expire_rejects(conn: psycopg.Connection, *, now: datetime | None = None) -> tuple[int, int]:
    """(rejects deleted, jobs they belonged to)."""
    row = conn.execute(query("observability", "expire_rejects"), {"agora": _now(conn, now)}).fetchone()
    return row["rejeicoes"], row["jobs"]


def expire_files(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None
) -> tuple[int, int]:
    """(files deleted, bytes freed). Only files inside the store are ever deleted."""
    agora = _now(conn, now)
    store = settings.arquivos_dir.resolve()
    gone: list[str] = []
    freed = 0
    for row in conn.execute(query("observability", "expired_files"), {"agora": agora}).fetchall():
        path = Path(row["arquivo_path"])
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if not resolved.is_relative_to(store):
            log.warning("arquivo fora do armazenamento não foi apagado: %s", path)
            continue
        try:
            freed += resolved.stat().st_size
            resolved.unlink()
        except FileNotFoundError:
            pass  # already gone: forget it all the same
        gone.append(row["arquivo_path"])
    if gone:
        conn.execute(query("observability", "forget_files"), {"paths": gone, "agora": agora})
    return len(gone), freed


def expire_events(conn: psycopg.Connection, *, now: datetime | None = None) -> int:
    agora, total = _now(conn, now), 0
    while n := conn.execute(
        query("observability", "expire_events"), {"agora": agora, "lote": EVENT_SLICE}
    ).rowcount:
        total += n
        if n < EVENT_SLICE:
            break
    return total


def _digest_text(slug: str, nome: str, rows: list[dict[str, Any]]) -> tuple[str, str]:
    total = sum(r["pendentes"] for r in rows)
    lines = [f"{total} disparo(s) na DLQ do tenant {nome} ainda não re-enviados:"]
    for r in rows:
        lines.append(
            f"- {r['canal']}: {r['pendentes']} (novos nas últimas 24 h: {r['novos']}; "
            f"mais antigo: {r['mais_antigo']:%Y-%m-%d %H:%M} UTC)"
        )
        for e in r["erros"] or []:
            lines.append(f"    {e['n']} × {e['erro'] or 'sem mensagem'}")
    lines.append(
        f"Veja `disparo-agenda dlq list --tenant {slug}` e re-envie com `disparo-agenda dlq redrive`."
    )
    return f"[DLQ] {total} disparo(s) parados — {nome}", "\n".join(lines)


def dlq_digest(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None, send: bool = True
) -> list[dict[str, Any]]:
    """Per tenant with a DLQ: its numbers, sent to its team (once per tenant and day)."""
    agora = _now(conn, now)
    rows = conn.execute(query("observability", "dlq_digest"), {"desde": agora - timedelta(days=1)}).fetchall()
    by_tenant: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_tenant.setdefault(row["tenant_id"], []).append(row)
    out = []
    for tenant_rows in by_tenant.values():
        first = tenant_rows[0]
        subject, text = _digest_text(first["slug"], first["nome"], tenant_rows)
        item: dict[str, Any] = {
            "tenant": first["slug"],
            "pendentes": sum(r["pendentes"] for r in tenant_rows),
            "novos_24h": sum(r["novos"] for r in tenant_rows),
            "por_canal": {r["canal"]: r["pendentes"] for r in tenant_rows},
            "enviado": False,
        }
        if not send:
            pass
        elif not first["equipe_canal"] or not (first["equipe_destino"] or "").strip():
            item["erro"] = no_team_channel(first["slug"])
        else:
            result = send_team_message(
                settings, first["equipe_canal"], first["equipe_destino"], subject, text,
                idempotency_key=f"dlq-resumo-{first['tenant_id']}-{agora:%Y-%m-%d}",
            )  # fmt: skip
            item["enviado"] = result.ok
            if not result.ok:
                item["erro"] = result.error or result.outcome
        out.append(item)
    return out


def run_housekeeping(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None, digest: bool = True
) -> HousekeepingStats:
    """The whole sweep; each part commits on its own (autocommit connection)."""
    stats = HousekeepingStats()
    with timed(log, "housekeeping") as meta:
        stats.rejeicoes_removidas, stats.jobs_sem_rejeicoes = expire_rejects(conn, now=now)
        stats.arquivos_removidos, stats.bytes_liberados = expire_files(conn, settings, now=now)
        stats.eventos_removidos = expire_events(conn, now=now)
        stats.lembretes = lembretes.housekeeping(conn, now=now)
        stats.resumos_dlq = dlq_digest(conn, settings, now=now, send=digest)
        meta.update({k: v for k, v in stats.as_dict().items() if k != "resumos_dlq"})
    return stats
