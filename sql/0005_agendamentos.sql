-- Agendamentos: reminders (one row per agendamento x destinatario x versao, claimed like disparos),
-- calendar sync state on the agendamento, the lead status to restore, and the double-booking slot.

-- The lead's status before it became 'agendado', restored when its last pending agendamento ends.
ALTER TABLE agendamentos ADD COLUMN lead_status_anterior TEXT
    CHECK (lead_status_anterior IN ('novo', 'em_disparo', 'agendado', 'convertido', 'descartado'));

-- Calendar (MCP) sync: every change marks the row 'pendente'; the sweep creates/updates/deletes the event
-- and marks it 'sincronizado' (or 'erro' with the message, retried with backoff).
ALTER TABLE agendamentos
    ADD COLUMN calendar_status      TEXT CHECK (calendar_status IN ('pendente', 'sincronizado', 'erro')),
    ADD COLUMN calendar_versao      INTEGER,        -- versao the event reflects
    ADD COLUMN calendar_erro        TEXT,
    ADD COLUMN calendar_tentativas  INTEGER NOT NULL DEFAULT 0 CHECK (calendar_tentativas >= 0),
    ADD COLUMN calendar_proxima_em  TIMESTAMPTZ,
    ADD COLUMN calendar_lease_ate   TIMESTAMPTZ;
CREATE INDEX idx_agendamentos_calendar ON agendamentos (calendar_proxima_em)
    WHERE calendar_status IN ('pendente', 'erro');
CREATE INDEX idx_agendamentos_responsavel ON agendamentos (tenant_id, responsavel, data_agendada)
    WHERE status = 'pendente' AND responsavel IS NOT NULL;

-- Double booking: minutes one agendamento occupies for its responsavel (NULL: env
-- AGENDAMENTO_SLOT_MINUTOS, default 30).
ALTER TABLE tenants ADD COLUMN agendamento_slot_minutos INTEGER
    CHECK (agendamento_slot_minutos > 0 AND agendamento_slot_minutos <= 1440);

CREATE TABLE agendamento_lembretes (
    lembrete_id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        UUID NOT NULL,
    agendamento_id   UUID NOT NULL,
    destinatario     TEXT NOT NULL CHECK (destinatario IN ('responsavel', 'lead')),
    versao           INTEGER NOT NULL,
    canal            TEXT CHECK (canal IN ('whatsapp', 'email')),
    destino          TEXT,
    status           TEXT NOT NULL DEFAULT 'pendente'
                     CHECK (status IN ('pendente', 'enviando', 'enviado', 'erro', 'cancelado', 'expirado', 'bloqueado')),
    data_agendado    TIMESTAMPTZ NOT NULL,      -- data_agendada - lembrete_minutos
    disponivel_em    TIMESTAMPTZ NOT NULL,      -- next attempt (data_agendado, then backoff)
    idempotency_key  TEXT NOT NULL UNIQUE,      -- agendamento_id:destinatario:versao
    tentativas       INTEGER NOT NULL DEFAULT 0 CHECK (tentativas >= 0),
    max_tentativas   INTEGER NOT NULL DEFAULT 3 CHECK (max_tentativas >= 1),
    lease_ate        TIMESTAMPTZ,
    lease_owner      TEXT,
    message_id       TEXT,
    mensagem_erro    TEXT,
    data_envio       TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (agendamento_id, destinatario, versao),
    FOREIGN KEY (tenant_id, agendamento_id) REFERENCES agendamentos (tenant_id, agendamento_id) ON DELETE CASCADE,
    CHECK (status IN ('bloqueado', 'cancelado', 'expirado') OR (canal IS NOT NULL AND destino IS NOT NULL))
);
-- The queue: due pending reminders, and expired leases (a worker died mid-send).
CREATE INDEX idx_lembretes_due ON agendamento_lembretes (disponivel_em) WHERE status = 'pendente';
CREATE INDEX idx_lembretes_lease ON agendamento_lembretes (lease_ate) WHERE status = 'enviando';
CREATE INDEX idx_lembretes_agendamento ON agendamento_lembretes (tenant_id, agendamento_id);
