-- Operations: published events, alarms, retention (pipelines/core/observability/).
--
-- * tenants.webhook_url: where the tenant's outbox events are delivered (HMAC-signed with its webhook
--   secret); NULL: events are kept, not delivered. tenants.retencao_dias: how long stored sheets, ingest
--   rejects and delivered events are kept (housekeeping schedule).
-- * eventos_outbox gets its delivery state: attempts, the earliest next attempt (exponential backoff),
--   the last error. The row id is the stable event id a consumer deduplicates on (at-least-once).
--   A block-range index on created_at serves the failure-rate windows of the metrics and alarms
--   (disparo.completed events, 5-minute periods) and the retention sweep.
-- * ingest jobs publish ingest.job_created / ingest.job_completed from triggers: every surface that
--   creates or finishes a job (CLI, API, inbox, Dagster, the stale-job rescuer) publishes without knowing
--   it; statement-level with transition tables, one INSERT … SELECT per statement.
-- * alarmes: one row per incident (alarm × tenant × canal), opened and cleared by the alarm sensor; each
--   transition notified once (notificado_em / notificado_fim_em are claimed before sending).
ALTER TABLE tenants
    ADD COLUMN webhook_url TEXT CHECK (webhook_url IS NULL OR webhook_url ~ '^https?://[^[:space:]]+$'),
    ADD COLUMN retencao_dias INTEGER NOT NULL DEFAULT 90 CHECK (retencao_dias BETWEEN 1 AND 3650);

ALTER TABLE eventos_outbox
    ADD COLUMN tentativas INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN proxima_tentativa_em TIMESTAMPTZ,
    ADD COLUMN ultimo_erro TEXT;
-- Due events of one tenant, in order (the publisher batches per tenant).
CREATE INDEX idx_outbox_a_publicar ON eventos_outbox (tenant_id, id) WHERE publicado_em IS NULL;
DROP INDEX idx_outbox_pendentes;
CREATE INDEX idx_outbox_created_brin ON eventos_outbox USING brin (created_at timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);

CREATE FUNCTION ingest_jobs_evento_criado() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT n.tenant_id, 'disparo-agenda.ingest.job_created', n.job_id,
           jsonb_build_object('job_id', n.job_id, 'arquivo_origem', n.arquivo_origem, 'origem', n.origem,
                              'aba', n.aba, 'arquivo_sha256', n.arquivo_sha256)
    FROM novos n ORDER BY n.created_at, n.job_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION ingest_jobs_evento_concluido() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT n.tenant_id, 'disparo-agenda.ingest.job_completed', n.job_id,
           jsonb_build_object('job_id', n.job_id, 'status', n.status, 'arquivo_origem', n.arquivo_origem,
                              'origem', n.origem, 'linhas_total', n.linhas_total,
                              'linhas_rejeitadas', n.linhas_rejeitadas, 'leads_criados', n.leads_criados,
                              'leads_atualizados', n.leads_atualizados, 'mensagem_erro', n.mensagem_erro,
                              'concluido_em', n.concluido_em)
    FROM novos n JOIN antigos o ON o.job_id = n.job_id
    WHERE n.status IN ('concluido', 'erro') AND o.status IS DISTINCT FROM n.status;
    RETURN NULL;
END
$$;

CREATE TRIGGER ingest_jobs_evento_criado AFTER INSERT ON ingest_jobs
    REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION ingest_jobs_evento_criado();
CREATE TRIGGER ingest_jobs_evento_concluido AFTER UPDATE ON ingest_jobs
    REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
    FOR EACH STATEMENT EXECUTE FUNCTION ingest_jobs_evento_concluido();

CREATE TABLE alarmes (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alarme             TEXT NOT NULL CHECK (alarme IN ('DisparoHighFailureRate', 'IngestJobFailed')),
    canal              TEXT NOT NULL DEFAULT '',  -- '' when the alarm has no channel (ingest)
    aberto_em          TIMESTAMPTZ NOT NULL DEFAULT now(),
    fechado_em         TIMESTAMPTZ,
    detalhes           JSONB NOT NULL DEFAULT '{}',
    detalhes_fim       JSONB,
    notificado_em      TIMESTAMPTZ,
    notificado_fim_em  TIMESTAMPTZ,
    ultimo_erro        TEXT
);
-- At most one open incident per alarm, tenant and channel: opening is idempotent.
CREATE UNIQUE INDEX idx_alarmes_aberto ON alarmes (tenant_id, alarme, canal) WHERE fechado_em IS NULL;
CREATE INDEX idx_alarmes_tenant ON alarmes (tenant_id, aberto_em);

ALTER TABLE alarmes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alarmes TO disparo_agenda_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));
GRANT SELECT, INSERT, UPDATE, DELETE ON alarmes TO disparo_agenda_app;
GRANT USAGE, SELECT ON SEQUENCE alarmes_id_seq TO disparo_agenda_app;
