"""The seed's alarms (section 7.2), evaluated over the database and notified to each tenant's team.

- **DisparoHighFailureRate** (per tenant × canal): the failure rate of sends (final failures / (accepted +
  final failures), as `DisparosFailedRate`) above THRESHOLD in **two consecutive** PERIODs — the last two
  5-minute periods before the evaluation — each with at least MIN_SENDS sends (a handful of sends is
  noise, not a rate). It clears when the last period is no longer above the threshold (including a period
  without sends).
- **IngestJobFailed** (per tenant): an ingest job ended in `erro` in the last period (one evaluation
  period, threshold 0). It clears when a period passes without failed jobs.

Each incident is a row of `alarmes` (at most one open per alarm, tenant and canal), opened and closed by
`evaluate`. `notify` tells the tenant's team (`tenant set --equipe-canal/--equipe-destino`, e-mail or
WhatsApp through the MCP) **once** when it opens and once when it clears: the notification is claimed in
the row before it is sent, and sent with an `Idempotency-Key` of the incident and phase."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from pipelines.core.common.logs import log_event
from pipelines.core.common.queries import query
from pipelines.core.common.settings import Settings
from pipelines.core.observability.metrics import PERIOD, failure_counts
from pipelines.core.observability.team import no_team_channel, send_team_message

log = logging.getLogger(__name__)

HIGH_FAILURE = "DisparoHighFailureRate"
INGEST_FAILED = "IngestJobFailed"
THRESHOLD = 0.10
MIN_SENDS = 10


@dataclass
class Evaluation:
    abertos: list[dict[str, Any]] = field(default_factory=list)  # incidents opened now
    fechados: list[dict[str, Any]] = field(default_factory=list)  # incidents cleared now
    ativos: int = 0  # open after this evaluation

    def summary(self) -> str:
        parts = [f"aberto {_label(i)}" for i in self.abertos] + [
            f"normalizado {_label(i)}" for i in self.fechados
        ]
        return "; ".join(parts) or f"nenhuma mudança ({self.ativos} incidentes abertos)"


@dataclass
class Notifications:
    enviadas: list[str] = field(default_factory=list)
    pendentes: list[str] = field(default_factory=list)  # could not go yet (retried at the next evaluation)


def _label(incident: dict[str, Any]) -> str:
    canal = f"/{incident['canal']}" if incident.get("canal") else ""
    return f"{incident['alarme']} {incident.get('slug') or incident['tenant_id']}{canal}"


def describe(incident: dict[str, Any]) -> str:
    """One line for logs and tick messages: the alarm, tenant, canal and the numbers behind it."""
    return f"{_label(incident)} {incident.get('detalhes') or {}}"


def _pct(c: Any) -> dict[str, Any]:
    return {"taxa_pct": round(100 * c.taxa, 1), "falhas": c.falhas, "total": c.total}


def _breaching(c: Any) -> bool:
    return c is not None and c.total >= MIN_SENDS and c.taxa > THRESHOLD


def evaluate(conn: psycopg.Connection, *, now: datetime | None = None) -> Evaluation:
    """Open and close incidents from the last two periods before `now` (default: the database's now)."""
    now = now or conn.execute("SELECT now() AS n").fetchone()["n"]
    result = Evaluation()
    counts = {(c.tenant_id, c.canal, c.periodo): c for c in failure_counts(conn, now, periods=2)}
    failed_jobs = {
        r["tenant_id"]: r
        for r in conn.execute(
            query("observability", "failed_ingest_jobs"), {"inicio": now - PERIOD, "fim": now}
        ).fetchall()
    }
    slugs = {r["id"]: r["slug"] for r in conn.execute("SELECT id, slug FROM tenants").fetchall()}
    with conn.transaction():
        open_now = {
            (r["tenant_id"], r["alarme"], r["canal"]): r
            for r in conn.execute(query("observability", "open_incidents")).fetchall()
        }
        candidates: dict[tuple[UUID, str, str], dict[str, Any]] = {}
        for (tenant_id, canal, periodo), last in counts.items():
            first = counts.get((tenant_id, canal, 1))
            if periodo == 2 and _breaching(first) and _breaching(last):
                candidates[(tenant_id, HIGH_FAILURE, canal)] = {
                    "limite_pct": 100 * THRESHOLD,
                    "periodos": [_pct(first), _pct(last)],
                }
        for tenant_id, row in failed_jobs.items():
            candidates[(tenant_id, INGEST_FAILED, "")] = {"jobs_com_erro": row["n"], "jobs": row["jobs"]}
        for (tenant_id, alarme, canal), detalhes in candidates.items():
            if (tenant_id, alarme, canal) in open_now:
                continue
            row = conn.execute(
                query("observability", "open_incident"),
                {
                    "tenant": tenant_id,
                    "alarme": alarme,
                    "canal": canal,
                    "agora": now,
                    "detalhes": Jsonb(detalhes),
                },
            ).fetchone()
            if row:
                result.abertos.append(
                    {"id": row["id"], "tenant_id": tenant_id, "slug": slugs.get(tenant_id), "alarme": alarme,
                     "canal": canal, "detalhes": detalhes}
                )  # fmt: skip
        for (tenant_id, alarme, canal), inc in open_now.items():
            if alarme == HIGH_FAILURE:
                last = counts.get((tenant_id, canal, 2))
                if _breaching(last):
                    continue
                fim = {"ultimo_periodo": _pct(last) if last else {"taxa_pct": 0.0, "falhas": 0, "total": 0}}
            else:
                if tenant_id in failed_jobs:
                    continue
                fim = {"jobs_com_erro": 0}
            conn.execute(
                query("observability", "close_incident"),
                {"id": inc["id"], "agora": now, "detalhes": Jsonb(fim)},
            )
            result.fechados.append(
                {"id": inc["id"], "tenant_id": tenant_id, "slug": slugs.get(tenant_id), "alarme": alarme,
                 "canal": canal, "detalhes": fim}
            )  # fmt: skip
        result.ativos = conn.execute("SELECT count(*) AS n FROM alarmes WHERE fechado_em IS NULL").fetchone()[
            "n"
        ]
    for incident in result.abertos:
        log_event(log, "alarme.aberto", level=logging.ERROR, result="failure", tenant_id=incident["tenant_id"],
                  message=f"alarme aberto: {_label(incident)}", alarme=incident["alarme"], canal=incident["canal"],
                  detalhes=incident["detalhes"])  # fmt: skip
    for incident in result.fechados:
        log_event(log, "alarme.fechado", tenant_id=incident["tenant_id"], message=f"alarme normalizado: {_label(incident)}",
                  alarme=incident["alarme"], canal=incident["canal"], detalhes=incident["detalhes"])  # fmt: skip
    return result


def message(row: dict[str, Any]) -> tuple[str, str]:
    """(subject, text) of an incident's notification, in Portuguese for the tenant's team."""
    canal = f" ({row['canal']})" if row["canal"] else ""
    quando = f"{row['aberto_em']:%Y-%m-%d %H:%M} UTC"
    det = row["detalhes"] or {}
    if row["fase"] == "abertura":
        if row["alarme"] == HIGH_FAILURE:
            p1, p2 = det.get("periodos", [{}, {}])
            body = (
                f"Taxa de falha dos disparos{canal} acima de {det.get('limite_pct', 10):g}% em dois períodos "
                f"seguidos de 5 minutos: {p1.get('taxa_pct')}% ({p1.get('falhas')} de {p1.get('total')}) e "
                f"{p2.get('taxa_pct')}% ({p2.get('falhas')} de {p2.get('total')}). Os disparos que falham vão "
                "para a DLQ; veja `disparo-agenda dlq list` e o servidor MCP."
            )
        else:
            jobs = det.get("jobs") or []
            itens = "; ".join(
                f"{j.get('arquivo')} ({j.get('job_id')}): {j.get('mensagem_erro')}" for j in jobs[:5]
            )
            body = f"{det.get('jobs_com_erro', len(jobs))} job(s) de ingestão terminaram em erro: {itens}."
        subject = f"[ALARME] {row['alarme']} — {row['nome']}{canal}"
        return subject, f"{body}\nDesde {quando}. Incidente {row['id']}."
    fim = row["detalhes_fim"] or {}
    if row["alarme"] == HIGH_FAILURE:
        ultimo = fim.get("ultimo_periodo") or {}
        body = f"Taxa de falha dos disparos{canal} normalizada: {ultimo.get('taxa_pct', 0)}% nos últimos 5 minutos."
    else:
        body = "Nenhum job de ingestão terminou em erro nos últimos 5 minutos."
    fechado = f"{row['fechado_em']:%Y-%m-%d %H:%M} UTC" if row["fechado_em"] else "-"
    subject = f"[OK] {row['alarme']} — {row['nome']}{canal}"
    return subject, f"{body}\nAberto em {quando}, encerrado em {fechado}. Incidente {row['id']}."


def notify(conn: psycopg.Connection, settings: Settings) -> Notifications:
    """Send every notification owed (openings, then clearings), each once; what cannot go stays owed."""
    out = Notifications()
    skip: set[str] = set()
    for _ in range(2):  # an incident opened and cleared before its opening went owes both, in order
        rows = conn.execute(query("observability", "notifications_owed")).fetchall()
        rows = [r for r in rows if f"{r['id']}:{r['fase']}" not in skip]
        if not rows:
            break
        for row in rows:
            tag = f"{_label(row)} ({row['fase']})"
            if not row["equipe_canal"] or not (row["equipe_destino"] or "").strip():
                error = no_team_channel(row["slug"])
                conn.execute(
                    query("observability", "release_notification"),
                    {"id": row["id"], "fase": "nenhuma", "erro": error, "recusada": False},
                )
                skip.add(f"{row['id']}:{row['fase']}")
                out.pendentes.append(f"{tag}: {error}")
                continue
            claimed = conn.execute(
                query("observability", "claim_notification"), {"id": row["id"], "fase": row["fase"]}
            ).fetchone()
            if claimed is None:
                continue  # another evaluator took it
            key = f"alarme-{row['id']}-{row['fase']}" + (f"-{claimed['falhas']}" if claimed["falhas"] else "")
            subject, text = message(row)
            result = send_team_message(
                settings, row["equipe_canal"], row["equipe_destino"], subject, text, idempotency_key=key
            )
            if result.ok:
                out.enviadas.append(tag)
                continue
            conn.execute(
                query("observability", "release_notification"),
                {"id": row["id"], "fase": row["fase"], "erro": (result.error or result.outcome)[:500],
                 "recusada": result.outcome == "failed"},
            )  # fmt: skip
            skip.add(f"{row['id']}:{row['fase']}")
            out.pendentes.append(f"{tag}: {result.error or result.outcome}")
    return out
