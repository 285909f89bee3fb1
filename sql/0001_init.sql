-- Foundation schema: tenants, keys, leads and their contacts, ingest jobs and rejects,
-- disparos (the send queue) with its dead-letter and outbox, agendamentos, templates, opt-outs.
-- Every tenant-owned row carries tenant_id; child rows reference (tenant_id, parent id) so a row
-- can never point at another tenant's parent.

CREATE TABLE tenants (
    id                       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    slug                     TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    nome                     TEXT NOT NULL,
    timezone                 TEXT NOT NULL DEFAULT 'America/Sao_Paulo',
    -- Send window per weekday, in the tenant's time zone: {"seg": [["08:00","20:00"]], ..., "dom": []}.
    -- NULL means no window (send at any time).
    janela_envio             JSONB,
    rate_limit_whatsapp      NUMERIC(10, 3) NOT NULL DEFAULT 80 CHECK (rate_limit_whatsapp > 0),
    rate_limit_email         NUMERIC(10, 3) NOT NULL DEFAULT 50 CHECK (rate_limit_email > 0),
    lembrete_minutos_padrao  INTEGER NOT NULL DEFAULT 30 CHECK (lembrete_minutos_padrao >= 0),
    equipe_canal             TEXT CHECK (equipe_canal IN ('email', 'whatsapp')),
    equipe_destino           TEXT,
    webhook_secret           TEXT,
    ativo                    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    prefixo     TEXT NOT NULL UNIQUE,          -- public part of the key, used to find the row
    hash        TEXT NOT NULL,                 -- sha256 of the whole key; the key itself is never stored
    nome        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revogada_em TIMESTAMPTZ,
    ultimo_uso_em TIMESTAMPTZ
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE ingest_jobs (
    job_id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           UUID NOT NULL REFERENCES tenants (id),
    arquivo_origem      TEXT NOT NULL,          -- file name as the user gave it
    arquivo_path        TEXT,                   -- where the stored copy lives (file store)
    arquivo_sha256      TEXT,
    aba                 TEXT NOT NULL DEFAULT 'Leads',
    origem              TEXT NOT NULL DEFAULT 'cli' CHECK (origem IN ('cli', 'api', 'inbox', 'dagster')),
    status              TEXT NOT NULL DEFAULT 'pendente'
                        CHECK (status IN ('pendente', 'processando', 'concluido', 'erro')),
    linhas_total        INTEGER,
    linhas_processadas  INTEGER NOT NULL DEFAULT 0,
    linhas_rejeitadas   INTEGER NOT NULL DEFAULT 0,
    leads_criados       INTEGER NOT NULL DEFAULT 0,
    leads_atualizados   INTEGER NOT NULL DEFAULT 0,
    telefones_criados   INTEGER NOT NULL DEFAULT 0,
    emails_criados      INTEGER NOT NULL DEFAULT 0,
    avisos              JSONB NOT NULL DEFAULT '{}',
    erros               JSONB NOT NULL DEFAULT '[]',
    mensagem_erro       TEXT,
    iniciado_em         TIMESTAMPTZ,
    concluido_em        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, job_id)
);
CREATE INDEX idx_jobs_tenant_status ON ingest_jobs (tenant_id, status);
CREATE INDEX idx_jobs_pendentes ON ingest_jobs (created_at) WHERE status = 'pendente';

CREATE TABLE ingest_rejeicoes (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    job_id      UUID NOT NULL,
    linha       INTEGER NOT NULL,               -- spreadsheet line (header is line 1)
    coluna      TEXT,
    motivo      TEXT NOT NULL,
    valores     JSONB,                          -- the raw cells of the rejected row
    FOREIGN KEY (tenant_id, job_id) REFERENCES ingest_jobs (tenant_id, job_id) ON DELETE CASCADE
);
CREATE INDEX idx_rejeicoes_job ON ingest_rejeicoes (job_id, linha);

CREATE TABLE leads (
    lead_id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           UUID NOT NULL REFERENCES tenants (id),
    lead_id_externo     TEXT NOT NULL,
    origem_arquivo      TEXT NOT NULL,
    origem_aba          TEXT NOT NULL,
    linha_planilha      INTEGER NOT NULL,
    ingest_job_id       UUID REFERENCES ingest_jobs (job_id) ON DELETE SET NULL,
    nome                TEXT NOT NULL,
    contato_nome        TEXT,
    documento           TEXT,
    documento_tipo      TEXT CHECK (documento_tipo IN ('cpf', 'cnpj', 'invalido')),
    email_raw           TEXT,
    telefone_raw        TEXT,
    status              TEXT NOT NULL DEFAULT 'novo'
                        CHECK (status IN ('novo', 'em_disparo', 'agendado', 'convertido', 'descartado')),
    tags                JSONB NOT NULL DEFAULT '[]',
    data_ingestao       TIMESTAMPTZ NOT NULL DEFAULT now(),
    data_ultimo_evento  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uk_tenant_lead_externo UNIQUE (tenant_id, lead_id_externo),
    CONSTRAINT uk_tenant_lead UNIQUE (tenant_id, lead_id),
    CHECK ((documento IS NULL) = (documento_tipo IS NULL))
);
CREATE INDEX idx_leads_tenant_status ON leads (tenant_id, status);
CREATE INDEX idx_leads_job ON leads (ingest_job_id);
CREATE INDEX idx_leads_documento ON leads (tenant_id, documento) WHERE documento IS NOT NULL;
CREATE INDEX idx_leads_tags ON leads USING gin (tags);

CREATE TABLE lead_telefones (
    telefone_id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            UUID NOT NULL,
    lead_id              UUID NOT NULL,
    telefone             TEXT NOT NULL CHECK (telefone ~ '^\+55[1-9][0-9]{9,10}$'),
    telefone_principal   BOOLEAN NOT NULL DEFAULT FALSE,
    tipo_origem          TEXT NOT NULL DEFAULT 'nao_classificado'
                         CHECK (tipo_origem IN ('celular', 'fixo', 'nao_classificado')),
    valido_para_disparo  BOOLEAN NOT NULL DEFAULT TRUE,
    data_criacao         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uk_lead_telefone UNIQUE (lead_id, telefone),
    UNIQUE (tenant_id, telefone_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, lead_id) ON DELETE CASCADE
);
CREATE INDEX idx_telefones_tenant_tel ON lead_telefones (tenant_id, telefone);

CREATE TABLE lead_emails (
    email_id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            UUID NOT NULL,
    lead_id              UUID NOT NULL,
    email                TEXT NOT NULL CHECK (email = lower(email) AND position('@' in email) > 1),
    email_principal      BOOLEAN NOT NULL DEFAULT FALSE,
    valido_para_disparo  BOOLEAN NOT NULL DEFAULT TRUE,
    data_criacao         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uk_lead_email UNIQUE (lead_id, email),
    UNIQUE (tenant_id, email_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, lead_id) ON DELETE CASCADE
);
CREATE INDEX idx_emails_tenant_email ON lead_emails (tenant_id, email);

CREATE TABLE templates (
    template_id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            UUID NOT NULL REFERENCES tenants (id),
    nome                 TEXT NOT NULL CHECK (length(nome) BETWEEN 1 AND 100),
    canal                TEXT NOT NULL CHECK (canal IN ('whatsapp', 'email')),
    corpo                TEXT NOT NULL,
    assunto              TEXT,
    whatsapp_template_id TEXT,
    variaveis            TEXT[] NOT NULL DEFAULT '{}',
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, canal, nome),
    UNIQUE (tenant_id, template_id)
);

CREATE TABLE campanhas (
    campanha_id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    nome            TEXT NOT NULL,
    canal           TEXT NOT NULL CHECK (canal IN ('whatsapp', 'email')),
    template        TEXT NOT NULL,
    filtro          JSONB NOT NULL DEFAULT '{}',
    variaveis       JSONB NOT NULL DEFAULT '{}',
    inicio          TIMESTAMPTZ NOT NULL,
    espalhar_minutos INTEGER CHECK (espalhar_minutos >= 0),
    taxa_por_minuto  INTEGER CHECK (taxa_por_minuto > 0),
    status          TEXT NOT NULL DEFAULT 'ativa' CHECK (status IN ('ativa', 'cancelada', 'concluida')),
    total_disparos  INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, campanha_id)
);

CREATE TABLE disparos (
    disparo_id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       UUID NOT NULL,
    lead_id         UUID NOT NULL,
    campanha_id     UUID,
    canal           TEXT NOT NULL CHECK (canal IN ('whatsapp', 'email')),
    telefone_id     UUID,
    email_id        UUID,
    destino         TEXT NOT NULL,
    template        TEXT NOT NULL,
    payload         JSONB NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL DEFAULT 'pendente'
                    CHECK (status IN ('pendente', 'enviando', 'enviado', 'confirmado', 'erro', 'cancelado', 'bloqueado')),
    mensagem_erro   TEXT,
    message_id      TEXT,
    data_agendado   TIMESTAMPTZ NOT NULL DEFAULT now(),
    data_envio      TIMESTAMPTZ,
    data_retorno    TIMESTAMPTZ,
    tentativas      INTEGER NOT NULL DEFAULT 0 CHECK (tentativas >= 0),
    max_tentativas  INTEGER NOT NULL DEFAULT 3 CHECK (max_tentativas >= 1),
    lease_ate       TIMESTAMPTZ,               -- while 'enviando': the claim is valid until then
    lease_owner     TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, disparo_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, campanha_id) REFERENCES campanhas (tenant_id, campanha_id),
    FOREIGN KEY (tenant_id, telefone_id) REFERENCES lead_telefones (tenant_id, telefone_id),
    FOREIGN KEY (tenant_id, email_id) REFERENCES lead_emails (tenant_id, email_id),
    CHECK (canal <> 'whatsapp' OR email_id IS NULL),
    CHECK (canal <> 'email' OR telefone_id IS NULL)
);
-- The queue: due pending disparos per channel, cheap to find and claim.
CREATE INDEX idx_disparos_due ON disparos (canal, data_agendado) WHERE status = 'pendente';
-- Expired leases (a worker died mid-send) are found through this one.
CREATE INDEX idx_disparos_lease ON disparos (lease_ate) WHERE status = 'enviando';
CREATE INDEX idx_disparos_lead ON disparos (tenant_id, lead_id);
CREATE INDEX idx_disparos_status ON disparos (tenant_id, status, data_agendado);
CREATE INDEX idx_disparos_campanha ON disparos (campanha_id, status) WHERE campanha_id IS NOT NULL;
CREATE INDEX idx_disparos_message ON disparos (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE disparos_dlq (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     UUID NOT NULL,
    disparo_id    UUID NOT NULL,
    canal         TEXT NOT NULL,
    payload       JSONB NOT NULL,
    ultimo_erro   TEXT,
    tentativas    INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    redrive_em    TIMESTAMPTZ,
    FOREIGN KEY (tenant_id, disparo_id) REFERENCES disparos (tenant_id, disparo_id) ON DELETE CASCADE
);
CREATE INDEX idx_dlq_tenant ON disparos_dlq (tenant_id, created_at) WHERE redrive_em IS NULL;

-- Outbox of domain events (e.g. disparo-agenda.disparo.completed) for consumers to read.
CREATE TABLE eventos_outbox (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    tipo          TEXT NOT NULL,
    entidade_id   UUID NOT NULL,
    payload       JSONB NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    publicado_em  TIMESTAMPTZ
);
CREATE INDEX idx_outbox_pendentes ON eventos_outbox (id) WHERE publicado_em IS NULL;

CREATE TABLE agendamentos (
    agendamento_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            UUID NOT NULL,
    lead_id              UUID NOT NULL,
    tipo                 TEXT NOT NULL CHECK (tipo IN ('callback', 'reuniao')),
    canal                TEXT NOT NULL CHECK (canal IN ('telefone', 'whatsapp', 'video')),
    data_agendada        TIMESTAMPTZ NOT NULL,
    data_criacao         TIMESTAMPTZ NOT NULL DEFAULT now(),
    status               TEXT NOT NULL DEFAULT 'pendente' CHECK (status IN ('pendente', 'realizado', 'cancelado')),
    observacoes          TEXT,
    responsavel          TEXT,
    lembrete_minutos     INTEGER CHECK (lembrete_minutos >= 0),
    lembrete_lead        BOOLEAN NOT NULL DEFAULT FALSE,   -- the lead consented to a reminder
    realizado_em         TIMESTAMPTZ,
    cancelado_em         TIMESTAMPTZ,
    motivo_cancelamento  TEXT,
    calendar_event_id    TEXT,
    versao               INTEGER NOT NULL DEFAULT 1,       -- bumped on reschedule; part of reminder keys
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, agendamento_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, lead_id),
    CHECK (status <> 'realizado' OR realizado_em IS NOT NULL),
    CHECK (status <> 'cancelado' OR (cancelado_em IS NOT NULL AND motivo_cancelamento IS NOT NULL))
);
CREATE INDEX idx_agendamentos_lead ON agendamentos (tenant_id, lead_id);
CREATE INDEX idx_agendamentos_data ON agendamentos (tenant_id, data_agendada, status);
-- Due agendamentos (reminders to send) are found through this one.
CREATE INDEX idx_agendamentos_due ON agendamentos (data_agendada) WHERE status = 'pendente';

-- Suppression list: a destination that asked not to be contacted on a channel.
CREATE TABLE optouts (
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    canal       TEXT NOT NULL CHECK (canal IN ('whatsapp', 'email')),
    destino     TEXT NOT NULL,
    motivo      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, canal, destino)
);
