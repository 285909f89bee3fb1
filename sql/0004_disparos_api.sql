-- Disparo API: idempotency keys of POST /leads/{lead_id}/disparos, one active disparo per lead and
-- campaign, and the indexes the campaign audience filter and the opt-out lookups use.

-- A replayed request (same tenant + key) returns the stored first response; a different body is a 409.
-- The row is written in the same transaction as the disparo, so a failed request leaves no key behind.
CREATE TABLE idempotency_keys (
    tenant_id    UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    chave        TEXT NOT NULL CHECK (length(chave) BETWEEN 1 AND 255),
    body_sha256  TEXT NOT NULL,                -- sha256 of method, path and canonical JSON body
    status_code  INTEGER,
    resposta     JSONB,
    disparo_id   UUID,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, chave)
);
CREATE INDEX idx_idempotency_created ON idempotency_keys (created_at);

-- A lead is in at most one active disparo of a campaign: re-applying a campaign (or a concurrent
-- create) skips it through ON CONFLICT DO NOTHING. cancelado/erro/bloqueado rows do not count.
CREATE UNIQUE INDEX uq_disparos_campanha_lead_ativo ON disparos (campanha_id, lead_id)
    WHERE campanha_id IS NOT NULL AND status IN ('pendente', 'enviando', 'enviado', 'confirmado');

-- Audience filters of campaigns.
CREATE INDEX idx_leads_tenant_arquivo ON leads (tenant_id, origem_arquivo);
