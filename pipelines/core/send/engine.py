"""Send engine: turns due `pendente` disparos into MCP messages and final statuses.

The `disparos` table is the queue (seed 3.4/4.2/4.3/9, decision D-03). One drain (`send_due`):

1. maintenance, set-based: expired leases (a worker died mid-send) go back to `pendente`; due rows of
   tenants whose send window is closed move to the window's next opening (`adiados`);
2. claim: per (tenant, channel) with due work, the oldest due rows, `FOR UPDATE SKIP LOCKED`, capped per
   group so a slow (rate-limited) tenant cannot hold many leases; in the same statement opted-out
   destinations end `bloqueado` and the rest become `enviando` with a lease and `tentativas + 1`;
3. send: each row waits for a rate-limit token (a token bucket per tenant/channel kept in PostgreSQL so
   it holds across workers) and a concurrency slot, then POSTs to MCP with `Idempotency-Key: disparo_id`;
4. write back as results arrive — one set-based statement for whatever arrived since the previous one; a
   send's concurrency slot is released only once its result is written, so at most `concurrency` sends
   are ever sent-but-unrecorded (the most a kill -9 can make re-send): `enviado` (message_id,
   data_envio), retry (back to `pendente` with a new `data_agendado`: 1 s doubling, capped 30 s, jitter
   only adding, or the server's Retry-After), or `erro` + a `disparos_dlq` row; an `eventos_outbox` row
   (`disparo-agenda.disparo.completed`) per final outcome; the lead's `data_ultimo_evento` touched.

Any number of workers may run at once: claims skip locked rows and each write is guarded by the worker's
lease, so one disparo is never sent twice in parallel; a re-send after a crash carries the same key.
`drain` keeps its connections open for the long-lived loop (pipelines/core/send/loop.py), which calls it
again and again; `send_due` is one drain on connections of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from pipelines.core.common.errors import ConfigError
from pipelines.core.common.settings import Settings
from pipelines.core.send.backoff import backoff_delay
from pipelines.core.send.mcp import (
    CANAIS,
    McpClient,
    SendResult,
    check_canal,
    endpoint_for,
    request_from_disparo,
    send_url,
)
from pipelines.core.send.window import next_opening

log = logging.getLogger(__name__)

EVENT_COMPLETED = "disparo-agenda.disparo.completed"
RATE_BURST_S = 0.25  # bucket capacity: 0.25 s worth of tokens (at least 1); a new bucket starts with 1
GROUP_HORIZON_S = 5.0  # at most ~5 s of a group's rate limit claimed (leased) at once
_MAINTENANCE_EVERY_S = 1.0


@dataclass
class SendStats:
    enviados: int = 0
    falhas: int = 0  # final failures (status erro)
    reenvios: int = 0  # retries scheduled (back to pendente, later data_agendado)
    dlq: int = 0
    bloqueados: int = 0  # opt-out at claim time
    adiados: int = 0  # moved to the next send-window opening
    liberados: int = 0  # claimed but not sent when the budget ended (back to pendente)
    reassumidos: int = 0  # expired leases put back to pendente
    duration_s: float = 0.0
    throughput: float = 0.0  # enviados per second

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SendOptions:
    """What one drain (or the long-lived loop's drains) works on and how: one object instead of a long
    parameter list repeated by every caller. `now` only fixes the clock of the send-window check (tests)."""

    canal: str | None = None  # one channel; None: every channel with an MCP endpoint
    tenant_id: UUID | None = None
    disparo_ids: list[UUID] | None = None
    time_budget_s: float = 30.0
    batch_size: int = 500
    worker_id: str | None = None  # the lease owner; default host:random
    concurrency: int = 50  # MCP requests at once = the most sends that can be lost unrecorded by a kill
    timeout: float = 10.0  # MCP request timeout
    lease_s: float = 60.0
    now: datetime | None = None


# ---------------------------------------------------------------------------------------------- SQL

_EVENT_JSON = """jsonb_build_object(
    'disparo_id', disparo_id, 'tenant_id', tenant_id, 'lead_id', lead_id, 'campanha_id', campanha_id,
    'canal', canal, 'destino', destino, 'status', status, 'message_id', message_id,
    'mensagem_erro', mensagem_erro, 'tentativas', tentativas, 'data_envio', data_envio)"""

# Touching the lead is best-effort: SKIP LOCKED so two workers never wait on (or deadlock over) one lead.
_TOUCH_LEADS = """UPDATE leads l SET data_ultimo_evento = greatest(l.data_ultimo_evento, now())
    WHERE l.lead_id IN (
        SELECT x.lead_id FROM leads x
        WHERE x.lead_id IN (SELECT lead_id FROM upd WHERE status IN ({statuses}))
        FOR NO KEY UPDATE SKIP LOCKED)"""

_RETURNING = (
    "d.disparo_id, d.tenant_id, d.lead_id, d.campanha_id, d.canal, d.destino, d.template, d.payload, "
    "d.status, d.tentativas, d.max_tentativas, d.mensagem_erro, d.message_id, d.data_envio, d.reenvios_dlq"
)

_CLAIM = f"""
WITH g AS (
    SELECT * FROM unnest(%(tenants)s::uuid[], %(canais)s::text[], %(caps)s::int[]) AS g(tenant_id, canal, cap)
), cand AS (
    SELECT c.disparo_id,
           EXISTS (SELECT 1 FROM optouts o
                   WHERE o.tenant_id = c.tenant_id AND o.canal = c.canal AND o.destino = c.destino) AS optout
    FROM g CROSS JOIN LATERAL (
        SELECT d.disparo_id, d.tenant_id, d.canal, d.destino
        FROM disparos d
        WHERE d.tenant_id = g.tenant_id AND d.canal = g.canal
          AND d.status = 'pendente' AND d.data_agendado <= now() {{ids}}
        ORDER BY d.data_agendado
        LIMIT g.cap
        FOR UPDATE SKIP LOCKED
    ) c
), upd AS (
    UPDATE disparos d SET
        status = CASE WHEN cand.optout THEN 'bloqueado' ELSE 'enviando' END,
        mensagem_erro = CASE WHEN cand.optout
            THEN 'opt-out: o destino pediu para não receber mensagens neste canal' ELSE d.mensagem_erro END,
        tentativas = d.tentativas + CASE WHEN cand.optout THEN 0 ELSE 1 END,
        lease_ate = CASE WHEN cand.optout THEN NULL ELSE now() + make_interval(secs => %(lease)s) END,
        lease_owner = CASE WHEN cand.optout THEN NULL ELSE %(owner)s END,
        updated_at = now()
    FROM cand
    WHERE d.disparo_id = cand.disparo_id
    RETURNING {_RETURNING}
), ev AS (
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT tenant_id, '{EVENT_COMPLETED}', disparo_id, {_EVENT_JSON} FROM upd WHERE status = 'bloqueado'
), lt AS (
    {_TOUCH_LEADS.format(statuses="'bloqueado'")}
)
SELECT disparo_id, tenant_id, canal, destino, template, payload, status, tentativas, max_tentativas,
       reenvios_dlq
FROM upd
"""

_WRITE = f"""
WITH r AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(status)s::text[], %(mid)s::text[], %(erro)s::text[],
                         %(proximo)s::timestamptz[], %(enviado_em)s::timestamptz[])
        AS r(disparo_id, status, message_id, erro, proximo, enviado_em)
), upd AS (
    UPDATE disparos d SET
        status = r.status,
        message_id = coalesce(r.message_id, d.message_id),
        mensagem_erro = r.erro,
        data_envio = coalesce(r.enviado_em, d.data_envio),
        data_agendado = coalesce(r.proximo, d.data_agendado),
        lease_ate = NULL,
        lease_owner = NULL,
        updated_at = now()
    FROM r
    WHERE d.disparo_id = r.disparo_id AND d.status = 'enviando' AND d.lease_owner = %(owner)s
    RETURNING {_RETURNING}
), dlq AS (
    INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, ultimo_erro, tentativas)
    SELECT tenant_id, disparo_id, canal,
           jsonb_build_object('destino', destino, 'template', template, 'payload', payload),
           mensagem_erro, tentativas
    FROM upd WHERE status = 'erro'
    RETURNING 1
), ev AS (
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT tenant_id, '{EVENT_COMPLETED}', disparo_id, {_EVENT_JSON} FROM upd WHERE status IN ('enviado', 'erro')
), lt AS (
    {_TOUCH_LEADS.format(statuses="'enviado', 'erro'")}
)
SELECT (SELECT count(*) FROM upd WHERE status = 'enviado') AS enviados,
       (SELECT count(*) FROM upd WHERE status = 'pendente') AS reenvios,
       (SELECT count(*) FROM upd WHERE status = 'erro') AS falhas,
       (SELECT count(*) FROM dlq) AS dlq
"""

_RELEASE = """
UPDATE disparos SET status = 'pendente', tentativas = greatest(tentativas - 1, 0),
       lease_ate = NULL, lease_owner = NULL, updated_at = now()
WHERE disparo_id = ANY(%(ids)s::uuid[]) AND status = 'enviando' AND lease_owner = %(owner)s
"""

_TAKE_TOKENS = """
WITH t AS (SELECT clock_timestamp() AS ts),
cfg AS (
    SELECT (CASE WHEN %(canal)s = 'whatsapp' THEN rate_limit_whatsapp ELSE rate_limit_email END)::float8 AS rate
    FROM tenants WHERE id = %(tenant)s
),
calc AS (
    SELECT cfg.rate,
           least(greatest(1.0, cfg.rate * %(burst)s),
                 b.tokens + cfg.rate * extract(epoch FROM t.ts - b.atualizado_em)::float8) AS avail,
           t.ts
    FROM envio_rate_buckets b, cfg, t
    WHERE b.tenant_id = %(tenant)s AND b.canal = %(canal)s
    FOR UPDATE OF b
)
UPDATE envio_rate_buckets b
SET tokens = calc.avail - least(%(want)s, floor(calc.avail)), atualizado_em = calc.ts
FROM calc
WHERE b.tenant_id = %(tenant)s AND b.canal = %(canal)s
RETURNING least(%(want)s, floor(calc.avail))::int AS granted,
          calc.avail - least(%(want)s, floor(calc.avail)) AS restante, calc.rate
"""


def _filters(
    alias: str,
    canais: list[str] | None,
    tenant_id: UUID | None,
    disparo_ids: list[UUID] | None,
    params: dict[str, Any],
) -> str:
    sql = ""
    if canais is not None:
        sql += f" AND {alias}canal = ANY(%(f_canais)s::text[])"
        params["f_canais"] = list(canais)
    if tenant_id is not None:
        sql += f" AND {alias}tenant_id = %(f_tenant)s"
        params["f_tenant"] = tenant_id
    if disparo_ids is not None:
        sql += f" AND {alias}disparo_id = ANY(%(f_ids)s::uuid[])"
        params["f_ids"] = list(disparo_ids)
    return sql


def _due_sql(
    canais: list[str] | None, tenant_id: UUID | None, disparo_ids: list[UUID] | None
) -> tuple[str, dict]:
    params: dict[str, Any] = {}
    f = _filters("d.", canais, tenant_id, disparo_ids, params)
    sql = f"""
        SELECT d.tenant_id, t.slug AS tenant_slug, d.canal, count(*)::int AS due
        FROM (
            SELECT tenant_id, canal FROM disparos d
            WHERE d.status = 'pendente' AND d.data_agendado <= now() {f}
            UNION ALL
            SELECT tenant_id, canal FROM disparos d
            WHERE d.status = 'enviando' AND d.lease_ate < now() {f}
        ) d JOIN tenants t ON t.id = d.tenant_id AND t.ativo
        GROUP BY d.tenant_id, t.slug, d.canal
        ORDER BY t.slug, d.canal"""
    return sql, params


def count_due(conn: psycopg.Connection, canal: str | None = None) -> list[dict[str, Any]]:
    """Due work per (tenant, channel): pendente rows due now plus expired leases (for the sensor)."""
    if canal is not None:
        check_canal(canal)
    sql, params = _due_sql([canal] if canal else None, None, None)
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


# ---------------------------------------------------------------------------------------- worker


class _WriteFailed(Exception):
    """The writer could not record results (e.g. the database went away)."""


def idempotency_key(row: dict[str, Any]) -> str:
    """The disparo id on every attempt; a DLQ redrive is a new send and gets its own key (`id:rN`), so an
    idempotent MCP server does not answer it with the first, failed, attempt."""
    n = row.get("reenvios_dlq") or 0
    return str(row["disparo_id"]) if n == 0 else f"{row['disparo_id']}:r{n}"


@dataclass
class _Group:
    tenant_id: UUID
    canal: str
    due: int = 0


@dataclass
class _Limiter:
    """Local side of the DB token bucket of one (tenant, channel): hands out granted tokens in order."""

    worker: _Worker
    tenant_id: UUID
    canal: str
    tokens: int = 0
    waiting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take(self) -> None:
        self.waiting += 1
        try:
            async with self.lock:
                while self.tokens < 1:
                    granted, left, rate = await self.worker.take_tokens(
                        self.tenant_id, self.canal, self.waiting
                    )
                    self.tokens += granted
                    if self.tokens < 1:
                        # wake when half a bucket has refilled: well before it is full, so no refill is lost
                        need = min(self.waiting, max(1.0, rate * RATE_BURST_S / 2)) - left
                        await asyncio.sleep(min(1.0, max(0.002, need / rate)))
                self.tokens -= 1
        finally:
            self.waiting -= 1


class _Worker:
    def __init__(self, url: str, settings: Settings, options: SendOptions) -> None:
        self.url = url
        self.settings = settings
        self.canais = _channels(settings, options.canal)
        self.tenant_id = options.tenant_id
        ids = options.disparo_ids
        self.disparo_ids = [UUID(str(i)) for i in ids] if ids is not None else None
        self.budget = options.time_budget_s
        self.batch_size = max(1, options.batch_size)
        self.owner = options.worker_id or default_worker_id()
        self.concurrency = max(1, options.concurrency)
        self.timeout = options.timeout
        self.lease_s = max(options.lease_s, 3 * options.timeout)
        self.fixed_now = options.now
        self.stats = SendStats()
        self.rng = random.Random()
        self.tasks: dict[UUID, asyncio.Task] = {}
        self.waiting: set[UUID] = set()  # tasks not yet sending (cancellable at budget end)
        self.per_group: dict[tuple[UUID, str], int] = {}
        self.results: list[tuple[tuple, asyncio.Future]] = []  # (row to write, resolved once written)
        self.released: list[UUID] = []
        self.limiters: dict[tuple[UUID, str], _Limiter] = {}
        self.buckets_ready: set[tuple[UUID, str]] = set()
        self.tenants: dict[UUID, dict[str, Any]] = {}
        self.tenants_at = 0.0
        self.groups: list[_Group] = []
        self.groups_at = -1e9
        self.maintenance_at = -1e9
        self.heartbeat_at = time.monotonic()
        self.rotate = 0
        self.progress = asyncio.Event()
        self.results_event = asyncio.Event()
        self.stop_writer = False
        self.write_error: BaseException | None = None
        self.fatal: BaseException | None = None  # a database error a send task hit (ends the drain)
        self.discover_every_s = _MAINTENANCE_EVERY_S  # the long-lived loop looks more often
        self.stopping = False  # set by the long-lived loop on SIGTERM: claim nothing more
        self.slots = asyncio.Semaphore(self.concurrency)

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    # ------------------------------------------------------------------ database steps

    async def take_tokens(self, tenant_id: UUID, canal: str, want: int) -> tuple[int, float, float]:
        key = (tenant_id, canal)
        async with self.rate_lock:
            if key not in self.buckets_ready:
                await self.rate_conn.execute(
                    "INSERT INTO envio_rate_buckets (tenant_id, canal, tokens) VALUES (%s, %s, 1) "
                    "ON CONFLICT DO NOTHING",
                    (tenant_id, canal),
                )
                self.buckets_ready.add(key)
            cur = await self.rate_conn.execute(
                _TAKE_TOKENS, {"tenant": tenant_id, "canal": canal, "want": want, "burst": RATE_BURST_S}
            )
            row = await cur.fetchone()
        if row is None:  # tenant vanished: send nothing for it
            return 0, 0.0, 1.0
        return int(row["granted"]), float(row["restante"]), max(float(row["rate"]), 1e-6)

    async def refresh_tenants(self, ids: set[UUID]) -> None:
        if ids <= set(self.tenants) and time.monotonic() - self.tenants_at < 5.0:
            return
        cur = await self.conn.execute(
            "SELECT id, slug, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email, ativo "
            "FROM tenants WHERE id = ANY(%s::uuid[])",
            (list(ids | set(self.tenants)),),
        )
        self.tenants = {r["id"]: r for r in await cur.fetchall()}
        self.tenants_at = time.monotonic()

    async def heartbeat(self) -> None:
        """Extend the leases of rows still waiting or in flight here, so a live worker never loses them
        (only a dead worker's leases expire)."""
        if time.monotonic() - self.heartbeat_at < self.lease_s / 3 or not self.tasks:
            return
        self.heartbeat_at = time.monotonic()
        await self.conn.execute(
            "UPDATE disparos SET lease_ate = now() + make_interval(secs => %(lease)s) "
            "WHERE disparo_id = ANY(%(ids)s::uuid[]) AND status = 'enviando' AND lease_owner = %(owner)s",
            {"lease": self.lease_s, "ids": list(self.tasks), "owner": self.owner},
        )

    async def maintenance(self, force: bool = False) -> None:
        """Expired leases back to pendente; due rows of closed-window tenants to the next opening."""
        await self.heartbeat()
        if not force and time.monotonic() - self.maintenance_at < _MAINTENANCE_EVERY_S:
            return
        self.maintenance_at = time.monotonic()
        params: dict[str, Any] = {}
        f = _filters("", self.canais, self.tenant_id, self.disparo_ids, params)
        cur = await self.conn.execute(
            f"""UPDATE disparos SET status = 'pendente', lease_ate = NULL, lease_owner = NULL, updated_at = now()
                WHERE disparo_id IN (
                    SELECT disparo_id FROM disparos
                    WHERE status = 'enviando' AND lease_ate < now() {f}
                    FOR UPDATE SKIP LOCKED)""",
            params,
        )
        self.stats.reassumidos += cur.rowcount
        await self.discover(force=True)
        await self.refresh_tenants({g.tenant_id for g in self.groups})
        now = self.now()
        moves: dict[UUID, datetime] = {}
        for g in self.groups:
            t = self.tenants.get(g.tenant_id)
            if t is None or t["janela_envio"] is None:
                continue
            opening = next_opening(t["janela_envio"], t["timezone"], now)
            if opening is None:  # a window with no open range at all: look again in a day
                moves[g.tenant_id] = datetime.now(UTC) + timedelta(days=1)
            elif opening != now:
                moves[g.tenant_id] = opening
        if moves:
            params = {"tenants": list(moves), "when": list(moves.values())}
            f = _filters("x.", self.canais, None, self.disparo_ids, params)
            cur = await self.conn.execute(
                f"""UPDATE disparos d SET data_agendado = v.proximo, updated_at = now()
                    FROM unnest(%(tenants)s::uuid[], %(when)s::timestamptz[]) AS v(tenant_id, proximo)
                    WHERE d.tenant_id = v.tenant_id AND d.disparo_id IN (
                        SELECT x.disparo_id FROM disparos x
                        WHERE x.tenant_id = ANY(%(tenants)s::uuid[]) AND x.status = 'pendente'
                          AND x.data_agendado <= now() {f}
                        FOR UPDATE SKIP LOCKED)""",
                params,
            )
            self.stats.adiados += cur.rowcount
            await self.discover(force=True)

    async def discover(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.groups_at < self.discover_every_s:
            return
        params: dict[str, Any] = {}
        f = _filters("", self.canais, self.tenant_id, self.disparo_ids, params)
        cur = await self.conn.execute(
            f"""SELECT tenant_id, canal, count(*)::int AS due FROM disparos
                WHERE status = 'pendente' AND data_agendado <= now() {f}
                GROUP BY tenant_id, canal""",
            params,
        )
        self.groups = [_Group(r["tenant_id"], r["canal"], r["due"]) for r in await cur.fetchall()]
        self.groups_at = time.monotonic()

    def _sendable(self, g: _Group, now: datetime) -> bool:
        t = self.tenants.get(g.tenant_id)
        if t is None or not t["ativo"]:
            return False
        return t["janela_envio"] is None or next_opening(t["janela_envio"], t["timezone"], now) == now

    def _rate(self, g: _Group) -> float:
        t = self.tenants[g.tenant_id]
        return float(t["rate_limit_whatsapp"] if g.canal == "whatsapp" else t["rate_limit_email"])

    async def claim(self, room: int) -> tuple[list[dict[str, Any]], int]:
        """Claim up to `room` rows; returns (rows to send, rows touched incl. opt-out blocks)."""
        await self.refresh_tenants({g.tenant_id for g in self.groups})
        now = self.now()
        groups = [g for g in self.groups if g.due > 0 and self._sendable(g, now)]
        if not groups:
            return [], 0
        self.rotate = (self.rotate + 1) % len(groups)
        groups = groups[self.rotate :] + groups[: self.rotate]
        tenants, canais, caps = [], [], []
        for g in groups:
            if room <= 0:
                break
            limit = max(1, math.ceil(self._rate(g) * GROUP_HORIZON_S))
            cap = min(room, g.due, limit - self.per_group.get((g.tenant_id, g.canal), 0))
            if cap <= 0:
                continue
            tenants.append(g.tenant_id)
            canais.append(g.canal)
            caps.append(cap)
            room -= cap
        if not tenants:
            return [], 0
        params: dict[str, Any] = {
            "tenants": tenants,
            "canais": canais,
            "caps": caps,
            "lease": self.lease_s,
            "owner": self.owner,
        }
        ids = ""
        if self.disparo_ids is not None:
            ids = "AND d.disparo_id = ANY(%(ids)s::uuid[])"
            params["ids"] = self.disparo_ids
        cur = await self.conn.execute(_CLAIM.format(ids=ids), params)
        rows = await cur.fetchall()
        got: dict[tuple[UUID, str], int] = {}
        for r in rows:
            got[(r["tenant_id"], r["canal"])] = got.get((r["tenant_id"], r["canal"]), 0) + 1
        for g, cap in zip(groups, caps, strict=False):
            n = got.get((g.tenant_id, g.canal), 0)
            g.due = g.due - n if n >= cap else 0  # fewer than asked: drained (or locked by another worker)
        claimed = [r for r in rows if r["status"] == "enviando"]
        self.stats.bloqueados += len(rows) - len(claimed)
        return claimed, len(rows)

    async def write(self, batch: list[tuple]) -> None:
        cols = list(zip(*batch, strict=True))
        cur = await self.write_conn.execute(
            _WRITE,
            {
                "ids": list(cols[0]),
                "status": list(cols[1]),
                "mid": list(cols[2]),
                "erro": list(cols[3]),
                "proximo": list(cols[4]),
                "enviado_em": list(cols[5]),
                "owner": self.owner,
            },
        )
        row = await cur.fetchone()
        self.stats.enviados += row["enviados"]
        self.stats.reenvios += row["reenvios"]
        self.stats.falhas += row["falhas"]
        self.stats.dlq += row["dlq"]

    # ------------------------------------------------------------------ per-row pipeline

    def _outcome(self, row: dict[str, Any], res: SendResult) -> tuple:
        did = row["disparo_id"]
        if res.outcome == "sent":
            return (did, "enviado", res.message_id, None, None, datetime.now(UTC))
        error = (res.error or "erro desconhecido")[:1000]
        if res.outcome == "retry" and row["tentativas"] < row["max_tentativas"]:
            delay = backoff_delay(row["tentativas"], rng=self.rng)
            if res.retry_after is not None:
                delay = max(delay, min(res.retry_after, 3600.0))
            return (did, "pendente", None, error, datetime.now(UTC) + timedelta(seconds=delay), None)
        if res.outcome == "retry":
            error = f"{error} (desistiu após {row['tentativas']} tentativas)"
        return (did, "erro", res.message_id, error, None, None)

    async def process(self, row: dict[str, Any]) -> None:
        did = row["disparo_id"]
        key = (row["tenant_id"], row["canal"])
        try:
            limiter = self.limiters.get(key)
            if limiter is None:
                limiter = self.limiters[key] = _Limiter(self, *key)
            await limiter.take()
            await self.slots.acquire()
            self.waiting.discard(did)  # from here on the send is not interrupted
            try:
                try:
                    request = request_from_disparo(
                        row["canal"], row["destino"], row["template"], row["payload"]
                    )
                    res = await self.client.send(row["canal"], request, idempotency_key(row))
                except Exception as exc:  # a row we cannot even build a request for: permanent failure
                    log.exception("disparo %s: erro ao enviar", did)
                    res = SendResult("failed", error=f"erro interno: {exc}")
                # The slot is held until the result is in the database: at any moment at most
                # `concurrency` messages are sent-but-unrecorded, the most a kill -9 can make re-send.
                await self.record(self._outcome(row, res))
            finally:
                self.slots.release()
        except asyncio.CancelledError:
            self.released.append(did)
        except _WriteFailed:
            pass  # the writer failed: the drain ends with its error; the lease brings the row back
        except psycopg.Error as exc:  # the rate-limit query lost the database: the drain ends with it
            self.fatal = self.fatal or exc
        finally:
            self.waiting.discard(did)
            self.tasks.pop(did, None)
            self.per_group[key] -= 1
            self.progress.set()

    async def record(self, item: tuple) -> None:
        """Queue one result for the writer and wait until it is written (or the writer failed)."""
        if self.write_error is not None:
            raise _WriteFailed from self.write_error
        done = asyncio.get_running_loop().create_future()
        self.results.append((item, done))
        self.results_event.set()
        await done

    async def writer(self) -> None:
        """Writes whatever results have arrived, one set-based statement per round, as soon as they
        arrive: no waiting for a batch to fill up."""
        while True:
            if not self.results:
                if self.stop_writer:
                    return
                self.results_event.clear()
                try:
                    await asyncio.wait_for(self.results_event.wait(), 0.2)
                except TimeoutError:
                    pass
                continue
            batch, self.results = self.results[: self.batch_size], self.results[self.batch_size :]
            try:
                await self.write([item for item, _ in batch])
            except BaseException as exc:
                self.write_error = exc
                for _, done in batch + self.results:
                    if not done.done():
                        done.set_exception(_WriteFailed())
                self.results = []
                raise
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def open(self) -> None:
        conninfo = {"autocommit": True, "row_factory": dict_row}
        self.conn = await psycopg.AsyncConnection.connect(self.url, **conninfo)
        self.write_conn = await psycopg.AsyncConnection.connect(self.url, **conninfo)
        self.rate_conn = await psycopg.AsyncConnection.connect(self.url, **conninfo)
        self.rate_lock = asyncio.Lock()
        self.client = McpClient(self.settings, concurrency=self.concurrency, timeout=self.timeout)
        await self.client.__aenter__()

    async def close(self) -> None:
        try:
            await self.client.__aexit__(None, None, None)
        finally:
            for c in (self.conn, self.write_conn, self.rate_conn):
                await c.close()

    async def run(self) -> SendStats:
        """One drain on connections of its own (`send_due`)."""
        await self.open()
        try:
            return await self.drain(self.budget)
        finally:
            await self.close()

    async def drain(self, budget_s: float) -> SendStats:
        """Send what is due until nothing is claimable and nothing is in flight, the budget ends or
        `stopping` is set; the connections stay open (the long-lived loop drains again and again)."""
        self.stats = SendStats()
        t0 = time.monotonic()
        deadline = t0 + budget_s
        self.stop_writer = False
        self.write_error = None
        self.fatal = None
        self.released = []
        self.results = []
        writer = asyncio.create_task(self.writer())
        try:
            await self.maintenance(force=True)
            while time.monotonic() < deadline and not self.stopping:
                if writer.done():
                    break  # the writer failed: stop claiming, its error is raised below
                if self.fatal is not None:
                    raise self.fatal
                if len(self.tasks) > self.batch_size:  # keep ~2 batches in flight, claim full batches
                    await self.heartbeat()
                    await self._wait_progress(deadline)
                    continue
                await self.maintenance()
                await self.discover()
                rows, touched = await self.claim(2 * self.batch_size - len(self.tasks))
                if not touched and not self.tasks:
                    await self.discover(force=True)  # make sure: a fresh look before giving up
                    rows, touched = await self.claim(2 * self.batch_size - len(self.tasks))
                    if not touched:
                        break  # nothing claimable now and nothing in flight
                elif not touched:
                    await self._wait_progress(deadline)
                    continue
                for row in rows:
                    did = row["disparo_id"]
                    key = (row["tenant_id"], row["canal"])
                    self.per_group[key] = self.per_group.get(key, 0) + 1
                    self.waiting.add(did)
                    self.tasks[did] = asyncio.create_task(self.process(row))
            # budget over, stopping, or drained: stop what has not started, let sends in flight finish
            for did in list(self.waiting):
                task = self.tasks.get(did)
                if task is not None:
                    task.cancel()
            if self.tasks:
                await asyncio.gather(*list(self.tasks.values()), return_exceptions=True)
            self.stop_writer = True
            self.results_event.set()
            await writer
            if self.released:
                cur = await self.conn.execute(_RELEASE, {"ids": self.released, "owner": self.owner})
                self.stats.liberados += cur.rowcount
        finally:
            for task in list(self.tasks.values()):  # an error above: nothing of this drain keeps running
                task.cancel()
            if self.tasks:
                await asyncio.gather(*list(self.tasks.values()), return_exceptions=True)
            if not writer.done():
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)  # its error, if any, is retrieved
        self.stats.duration_s = round(time.monotonic() - t0, 3)
        self.stats.throughput = (
            round(self.stats.enviados / self.stats.duration_s, 1) if self.stats.duration_s else 0.0
        )
        return self.stats

    async def _wait_progress(self, deadline: float) -> None:
        self.progress.clear()
        timeout = max(0.0, min(0.25, deadline - time.monotonic()))
        try:
            await asyncio.wait_for(self.progress.wait(), timeout)
        except TimeoutError:
            pass


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def _channels(settings: Settings, canal: str | None) -> list[str]:
    """Channels to drain: the one asked for (its endpoint must be valid) or every configured one."""
    if canal is not None:
        send_url(settings, check_canal(canal))
        return [canal]
    found = [c for c in CANAIS if endpoint_for(settings, c)]
    for c in found:
        send_url(settings, c)  # a set but malformed endpoint is an error, not a silent skip
    if not found:
        raise ConfigError(
            "nenhum endpoint MCP configurado (defina MCP_WHATSAPP_ENDPOINT e/ou MCP_EMAIL_ENDPOINT)"
        )
    return found


async def send_due_async(
    url: str, options: SendOptions | None = None, *, settings: Settings | None = None, **fields: Any
) -> SendStats:
    """Async form of `send_due` (for callers already inside an event loop)."""
    options = replace(options or SendOptions(), **fields)
    return await _Worker(url, settings or Settings.from_env(), options).run()


def send_due(
    url: str, options: SendOptions | None = None, *, settings: Settings | None = None, **fields: Any
) -> SendStats:
    """Drain due disparos (optionally one channel / tenant / list of ids) until none is due or the time
    budget ends; returns counts. `fields` override `options` (`send_due(url, canal="email")`)."""
    coro = lambda: send_due_async(url, options, settings=settings, **fields)  # noqa: E731
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro())
    # Called from inside an event loop (e.g. an async route): run the drain on its own thread and loop.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["stats"] = _run(coro())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="send-due")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["stats"]


def _run(coro: Any) -> Any:
    try:
        import uvloop  # faster event loop when available (it is a uvicorn extra)

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)
