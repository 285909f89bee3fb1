-- Replay protection of MCP delivery receipts (POST /webhooks/mcp/status).
-- A receipt is signed over "<X-MCP-Timestamp>.<body>" and accepted only while that timestamp is within
-- the tolerance window; the signatures accepted inside the window are remembered here, so the same bytes
-- replayed within it are a no-op. Rows are useless once the window has passed (the timestamp check then
-- refuses the replay) and are deleted in small set-based batches by the webhook itself.
CREATE TABLE webhook_recibos_vistos (
    tenant_id   UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    assinatura  TEXT NOT NULL,              -- hex HMAC of the receipt (not a secret)
    message_id  TEXT NOT NULL,
    expira_em   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, assinatura)
);
CREATE INDEX idx_recibos_vistos_expira ON webhook_recibos_vistos (expira_em);
