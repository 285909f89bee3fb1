-- Send engine (issue 4): a per (tenant, channel) token bucket shared by every worker, and the index the
-- per-tenant claim walks.

-- Token bucket in the database so that the tenant's rate limit (tenants.rate_limit_*) holds across any
-- number of concurrent workers: a worker takes tokens with one atomic UPDATE that first refills
-- `tokens` by rate × elapsed time (capped at a small burst), then subtracts what it was granted.
CREATE TABLE envio_rate_buckets (
    tenant_id      UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    canal          TEXT NOT NULL CHECK (canal IN ('whatsapp', 'email')),
    tokens         DOUBLE PRECISION NOT NULL,
    atualizado_em  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, canal)
);

-- Claim: oldest due pendente rows of one (tenant, channel), in order, without a sort.
CREATE INDEX idx_disparos_claim ON disparos (tenant_id, canal, data_agendado) WHERE status = 'pendente';
