-- Send engine: drop the disparos indexes no query needs, so every INSERT (a campaign writes 100k rows in
-- one statement) and every status / data_agendado change maintains two indexes fewer.
--
-- idx_disparos_due (canal, data_agendado) WHERE pendente (0001) serves the same rows as idx_disparos_claim
-- (tenant_id, canal, data_agendado) WHERE pendente (0003). EXPLAIN (220k pendente, 3 tenants):
--   * the claim (per tenant and channel, oldest due first, LIMIT) needs the tenant-first one: by channel
--     only, a small tenant's claim would walk every other tenant's due backlog first;
--   * count_due (the sensor) and the worker's discover already chose idx_disparos_claim with
--     idx_disparos_due present (index-only: it holds tenant_id and canal);
--   * the window push-back (tenant_id = ANY, pendente, due) and the /metrics due count use it as well.
-- idx_disparos_status (tenant_id, status, data_agendado), 0001, full (every disparo ever): its only user was
-- the window push-back above. By lead: idx_disparos_lead; by campaign: idx_disparos_campanha; by id: the
-- primary key / (tenant_id, disparo_id); by message_id: idx_disparos_message; expired leases: idx_disparos_lease.
DROP INDEX IF EXISTS idx_disparos_due;
DROP INDEX IF EXISTS idx_disparos_status;
