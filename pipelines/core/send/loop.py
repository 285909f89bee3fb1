"""The long-lived send loop: disparos and reminders leave at their time, with or without Dagster.

One loop per process (CLI `worker`, or a Dagster send run with a time budget). It

- drains what is due (the send engine's drain for disparos, `send_due_reminders` for reminders), then
  sleeps until the next `data_agendado` / `disponivel_em` (one cheap query each) — a retry put back for
  1 s is just such a row, so retries run on the seed's clock here, with or without Dagster;
- wakes at once on `LISTEN disparo_agenda_envio`: sql/0022's triggers notify when a disparo or reminder
  becomes `pendente` (created, rescheduled, put back for retry, re-driven);
- writes a heartbeat row (`envio_workers`) every `heartbeat_s`; any loop that finds another's heartbeat
  older than `stale_s` puts the disparos that worker leased back to `pendente` (its reminders need nothing:
  their claim is rolled back with the dead worker's transaction) — a `kill -9` costs seconds, not a lease;
- on `stop` (SIGTERM/SIGINT in the CLI) or at the end of its budget claims nothing more, lets the sends in
  flight finish (at most one MCP timeout), releases what it claimed but did not send, removes its
  heartbeat row and returns;
- survives the database going away: the session is torn down and opened again every second until it is
  back; what it had leased and not recorded goes back to the queue (a re-send carries the same key).

SKIP LOCKED claims make any number of loops cooperate (N replicas on N machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipelines.core.common.settings import Settings
from pipelines.core.send.engine import SendOptions, _Worker, default_worker_id

log = logging.getLogger(__name__)

CHANNEL = "disparo_agenda_envio"
IDLE_MAX_S = 5.0  # look again at least this often even without a notification (e.g. a tenant re-activated)
_DB_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True)
class LoopOptions:
    send: SendOptions = field(default_factory=SendOptions)  # canal, concurrency, batch size, timeout…
    disparos: bool = True
    lembretes: bool = True
    papel: str = "worker"  # envio_workers.papel: 'worker' (CLI) | 'dagster'
    time_budget_s: float | None = None  # None: until stopped
    heartbeat_s: float = 1.0
    stale_s: float = 6.0  # another worker's heartbeat older than this: its leases are reclaimed
    reminders_batch_s: float = 2.0  # one reminders drain call at most this long (so stop is prompt)
    calendar_every_s: float = 10.0


@dataclass
class LoopStats:
    enviados: int = 0
    reenvios: int = 0
    falhas: int = 0
    dlq: int = 0
    bloqueados: int = 0
    liberados: int = 0
    lembretes_enviados: int = 0
    lembretes_retry: int = 0
    lembretes_erro: int = 0
    drenagens: int = 0
    reassumidos_de_workers_parados: int = 0
    reconexoes: int = 0
    duracao_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_HEARTBEAT = """
INSERT INTO envio_workers (worker_id, papel, canais, lembretes, host, pid, termina_em)
VALUES (%(id)s, %(papel)s, %(canais)s, %(lembretes)s, %(host)s, %(pid)s, %(termina)s)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_em = now(), termina_em = excluded.termina_em
"""

# Workers whose heartbeat stopped: their rows go, and the disparos they had leased go back to the queue
# (the UPDATE's NOTIFY wakes every loop). Counted as an attempt, like an expired lease.
_RECLAIM_STALE = """
WITH stale AS (
    DELETE FROM envio_workers
    WHERE heartbeat_em < now() - make_interval(secs => %(stale)s) AND worker_id <> %(me)s
    RETURNING worker_id
), d AS (
    UPDATE disparos SET status = 'pendente', lease_ate = NULL, lease_owner = NULL, updated_at = now()
    WHERE status = 'enviando' AND lease_owner IN (SELECT worker_id FROM stale)
    RETURNING 1
)
SELECT (SELECT count(*) FROM stale) AS workers, (SELECT count(*) FROM d) AS disparos
"""

# What a previous session of this very worker left leased (the database went away under it).
_RELEASE_MINE = """
UPDATE disparos SET status = 'pendente', lease_ate = NULL, lease_owner = NULL, updated_at = now()
WHERE status = 'enviando' AND lease_owner = %(me)s
"""

# Next time a disparo of these channels is due: per active tenant and channel, the first row of the
# claim index (tenant_id, canal, data_agendado) WHERE pendente, so the cost grows with tenants, not rows;
# and the first lease to expire (a worker without heartbeat row, e.g. `send --once`).
_NEXT_DISPARO = """
SELECT least(
    (SELECT min(n.data_agendado)
     FROM tenants t CROSS JOIN unnest(%(canais)s::text[]) AS c(canal)
     CROSS JOIN LATERAL (
         SELECT d.data_agendado FROM disparos d
         WHERE d.tenant_id = t.id AND d.canal = c.canal AND d.status = 'pendente'
         ORDER BY d.data_agendado LIMIT 1) n
     WHERE t.ativo),
    (SELECT min(lease_ate) FROM disparos WHERE status = 'enviando' AND canal = ANY(%(canais)s::text[]))
) AS proximo
"""

_NEXT_LEMBRETE = """
SELECT least(
    (SELECT min(disponivel_em) FROM agendamento_lembretes WHERE status = 'pendente'),
    (SELECT min(lease_ate) FROM agendamento_lembretes WHERE status = 'enviando')
) AS proximo
"""


class _Session:
    """Connections of one period of database availability."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        info = {"autocommit": True, "row_factory": dict_row, "connect_timeout": 5}
        self.listen = await psycopg.AsyncConnection.connect(self.url, **info)
        self.conn = await psycopg.AsyncConnection.connect(self.url, **info)
        await self.listen.execute(f"LISTEN {CHANNEL}")

    async def close(self) -> None:
        for c in (getattr(self, "listen", None), getattr(self, "conn", None)):
            if c is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.close(), 2.0)


class SendLoop:
    def __init__(self, url: str, settings: Settings, options: LoopOptions) -> None:
        self.url = url
        self.settings = settings
        self.options = options
        self.worker_id = options.send.worker_id or default_worker_id()
        send = replace(options.send, worker_id=self.worker_id)
        self.sender = _Worker(url, settings, send) if options.disparos else None
        if self.sender is not None:
            self.sender.discover_every_s = 0.25  # rows turning due during a drain are seen within 0.25 s
        self.canais = self.sender.canais if self.sender is not None else []
        self.stats = LoopStats()
        self.stop_event = asyncio.Event()
        self.wake_disparos = asyncio.Event()
        self.wake_lembretes = asyncio.Event()
        self.deadline: float | None = None

    # ------------------------------------------------------------------ public

    def stop(self) -> None:
        """Stop claiming; what is in flight finishes. Safe from a signal handler on the loop."""
        self.stop_event.set()
        if self.sender is not None:
            self.sender.stopping = True
        self.wake_disparos.set()
        self.wake_lembretes.set()

    async def run(self) -> LoopStats:
        t0 = time.monotonic()
        if self.options.time_budget_s is not None:
            self.deadline = t0 + self.options.time_budget_s
        try:
            while not self._over():
                session = _Session(self.url)
                try:
                    await session.open()
                    await self._serve(session)
                except _DB_ERRORS as exc:
                    self.stats.reconexoes += 1
                    log.warning("envio: banco indisponível (%s); tentando de novo em 1 s", type(exc).__name__)
                    await self._sleep(1.0)
                finally:
                    await session.close()
            await self._goodbye()
        finally:
            self.stats.duracao_s = round(time.monotonic() - t0, 3)
        return self.stats

    # ------------------------------------------------------------------ internals

    def _over(self) -> bool:
        return self.stop_event.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)

    def _left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), min(seconds, self._left()))

    async def _serve(self, session: _Session) -> None:
        await session.conn.execute(_RELEASE_MINE, {"me": self.worker_id})
        await self._beat(session)
        if self.sender is not None:
            await self.sender.open()
        tasks = [
            asyncio.create_task(self._listen(session)),
            asyncio.create_task(self._heartbeat(session)),
        ]
        work = []
        if self.sender is not None:
            work.append(asyncio.create_task(self._disparos(session)))
        if self.options.lembretes:
            work.append(asyncio.create_task(self._lembretes(session)))
        try:
            # the work loops end at stop/budget; a helper task ends only by an error (raised here)
            pending: set[asyncio.Task] = set(work)
            while pending:
                done, _ = await asyncio.wait(pending | set(tasks), return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t in tasks or t.exception() is not None:
                        t.result()  # raises the helper's or worker's error
                    pending.discard(t)
        finally:
            for t in tasks + work:
                t.cancel()
            await asyncio.gather(*tasks, *work, return_exceptions=True)
            if self.sender is not None:
                with contextlib.suppress(Exception):
                    await self.sender.close()

    async def _beat(self, session: _Session) -> None:
        termina = None
        if self.deadline is not None:
            termina = datetime.now(UTC).timestamp() + self._left()
            termina = datetime.fromtimestamp(termina, UTC)
        await session.conn.execute(
            _HEARTBEAT,
            {
                "id": self.worker_id,
                "papel": self.options.papel,
                "canais": self.canais,
                "lembretes": self.options.lembretes,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "termina": termina,
            },
        )

    async def _heartbeat(self, session: _Session) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            await self._beat(session)
            cur = await session.conn.execute(
                _RECLAIM_STALE, {"stale": self.options.stale_s, "me": self.worker_id}
            )
            row = await cur.fetchone()
            if row["workers"]:
                self.stats.reassumidos_de_workers_parados += row["disparos"]
                log.warning(
                    "envio: %d worker(s) sem heartbeat há %.0f s; %d disparo(s) devolvido(s) à fila",
                    row["workers"],
                    self.options.stale_s,
                    row["disparos"],
                )

    async def _listen(self, session: _Session) -> None:
        async for note in session.listen.notifies():
            if note.payload == "lembretes":
                self.wake_lembretes.set()
            elif note.payload.startswith("disparos:") and note.payload[9:] in self.canais:
                if self.sender is not None:
                    self.sender.groups_at = -1e9  # a drain under way looks again at once
                self.wake_disparos.set()

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, min(seconds, IDLE_MAX_S, self._left())))

    async def _next(self, session: _Session, sql: str, params: dict[str, Any]) -> float:
        """Seconds until the next due row (0 if one is due; IDLE_MAX_S if none)."""
        cur = await session.conn.execute(sql, params)
        when = (await cur.fetchone())["proximo"]
        if when is None:
            return IDLE_MAX_S
        return max(0.0, (when - datetime.now(UTC)).total_seconds())

    async def _disparos(self, session: _Session) -> None:
        assert self.sender is not None
        idle_rounds = 0
        while not self._over():
            self.wake_disparos.clear()
            s = await self.sender.drain(self._left())
            self.stats.drenagens += 1
            for k in ("enviados", "reenvios", "falhas", "dlq", "bloqueados", "liberados"):
                setattr(self.stats, k, getattr(self.stats, k) + getattr(s, k))
            if self._over():
                break
            wait = await self._next(session, _NEXT_DISPARO, {"canais": self.canais})
            # due but nothing claimable (e.g. rows another worker is claiming right now): do not spin
            idle_rounds = idle_rounds + 1 if wait == 0 and not (s.enviados or s.reenvios or s.falhas) else 0
            if idle_rounds:
                wait = min(0.05 * idle_rounds, 0.5)
            await self._wait(self.wake_disparos, wait)

    async def _lembretes(self, session: _Session) -> None:
        from pipelines.core.agenda.lembretes import send_due_reminders

        calendar_at = 0.0
        idle_rounds = 0
        while not self._over():
            self.wake_lembretes.clear()
            wait = await self._next(session, _NEXT_LEMBRETE, {})
            calendar = bool(self.settings.mcp_calendar_endpoint) and (
                time.monotonic() - calendar_at >= self.options.calendar_every_s
            )
            if wait == 0 or calendar:
                if calendar:
                    calendar_at = time.monotonic()
                stats = await asyncio.to_thread(
                    send_due_reminders,
                    self.url,
                    time_budget_s=min(self.options.reminders_batch_s, max(self._left(), 0.1)),
                    settings=self.settings,
                    concurrency=self.options.send.concurrency,
                    timeout=self.options.send.timeout,
                    sync_calendar_events=calendar,
                    owner=self.worker_id,
                )
                self.stats.lembretes_enviados += stats["enviados"]
                self.stats.lembretes_retry += stats["retry"]
                self.stats.lembretes_erro += stats["erro"]
                sent = stats["reclamados"]
                if wait == 0 and not sent:
                    idle_rounds += 1  # due but not claimable (housekeeping will settle it): do not spin
                    await self._wait(self.wake_lembretes, min(0.05 * idle_rounds, 0.5))
                else:
                    idle_rounds = 0
                continue
            await self._wait(self.wake_lembretes, wait)

    async def _goodbye(self) -> None:
        """Clean exit: the heartbeat row goes (nothing of ours is leased any more)."""
        with contextlib.suppress(*_DB_ERRORS):
            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                await conn.execute(_RELEASE_MINE, {"me": self.worker_id})
                await conn.execute("DELETE FROM envio_workers WHERE worker_id = %s", (self.worker_id,))


def run_loop(
    url: str,
    options: LoopOptions | None = None,
    *,
    settings: Settings | None = None,
    handle_signals: bool = False,
    on_start: Callable[[SendLoop], None] | None = None,
) -> LoopStats:
    """Run the loop until stopped (SIGTERM/SIGINT when `handle_signals`) or its time budget ends.
    `on_start` is called once the options are validated (endpoints configured), before the loop runs."""
    loop = SendLoop(url, settings or Settings.from_env(), options or LoopOptions())
    if on_start is not None:
        on_start(loop)

    async def main() -> LoopStats:
        if handle_signals:
            running = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                running.add_signal_handler(sig, loop.stop)
        return await loop.run()

    from pipelines.core.send.engine import _run

    return _run(main())


def loop_health(
    conn: psycopg.Connection, worker_ids: list[str], *, stale_s: float = LoopOptions.stale_s
) -> dict[str, dict[str, Any]]:
    """Heartbeat rows of these workers: {worker_id: {vivo, restante_s}} (`vivo`: heartbeat fresher than
    `stale_s`; `restante_s`: seconds left of its time budget, None when it has none). A worker without a
    row has not started its loop yet, has ended, or was reclaimed as dead."""
    rows = conn.execute(
        """SELECT worker_id, heartbeat_em > now() - make_interval(secs => %(stale)s) AS vivo,
                  extract(epoch FROM termina_em - now())::float8 AS restante_s
           FROM envio_workers WHERE worker_id = ANY(%(ids)s)""",
        {"ids": worker_ids, "stale": stale_s},
    ).fetchall()
    out = {}
    for r in rows:
        worker_id, vivo, restante = r.values() if isinstance(r, dict) else r
        out[worker_id] = {"vivo": vivo, "restante_s": restante}
    return out
