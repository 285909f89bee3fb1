-- The long-lived send loop (pipelines/core/send/loop.py, issue #13): workers that sleep until the next
-- due time, wake at once on NOTIFY, and leave a heartbeat so the leases of a killed one are reclaimed in
-- seconds; DLQ redrives get an Idempotency-Key of their own.

-- How many times the disparo came back from the DLQ: the redrive's send uses the key `disparo_id:rN`
-- (an idempotent MCP server would answer the first key with the first, failed, answer).
ALTER TABLE disparos ADD COLUMN reenvios_dlq INTEGER NOT NULL DEFAULT 0;

-- One row per live worker loop (CLI `worker`, a Dagster send run). `heartbeat_em` is refreshed every
-- second; a row older than the stale limit means the worker is gone (kill -9, lost machine) and any loop
-- puts the disparos and reminders it leased back in the queue, then deletes the row.
CREATE TABLE envio_workers (
    worker_id     TEXT PRIMARY KEY,
    papel         TEXT NOT NULL,                -- 'worker' (CLI) | 'dagster' (a send run)
    canais        TEXT[] NOT NULL,              -- disparo channels it drains
    lembretes     BOOLEAN NOT NULL,             -- whether it also sends reminders
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    iniciado_em   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_em  TIMESTAMPTZ NOT NULL DEFAULT now(),
    termina_em    TIMESTAMPTZ                   -- end of its time budget (Dagster runs hand over before it)
);

-- Wake the loops: one NOTIFY per statement and channel that leaves due-able work (a new pendente row,
-- a reschedule, a retry put back, a redrive). Statement-level with a transition table, so a campaign
-- inserting 100k rows costs one notification, not 100k. NOTIFY is delivered at commit.
CREATE FUNCTION notificar_envio_disparos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('disparo_agenda_envio', 'disparos:' || c.canal)
    FROM (SELECT DISTINCT canal FROM novos WHERE status = 'pendente') c;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_disparos_notificar_insert AFTER INSERT ON disparos
    REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION notificar_envio_disparos();
CREATE TRIGGER trg_disparos_notificar_update AFTER UPDATE ON disparos
    REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION notificar_envio_disparos();

CREATE FUNCTION notificar_envio_lembretes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM novos WHERE status = 'pendente') THEN
        PERFORM pg_notify('disparo_agenda_envio', 'lembretes');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_lembretes_notificar_insert AFTER INSERT ON agendamento_lembretes
    REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION notificar_envio_lembretes();
CREATE TRIGGER trg_lembretes_notificar_update AFTER UPDATE ON agendamento_lembretes
    REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION notificar_envio_lembretes();
