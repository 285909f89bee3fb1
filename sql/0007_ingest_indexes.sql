-- Ingest: drop the indexes that no query uses but every lead/contact insert pays for (measured with a
-- 164,809-row sheet: ~1.0 s of the ~4.1 s leads upsert plus ~0.4 s of the phone/e-mail inserts).
-- Every query of pipelines/core and api_lite was checked; what they need is still indexed:
--   * idx_leads_documento (tenant_id, documento): no query filters or joins on documento. It was the
--     most expensive one (documentos arrive in random order, so every insert dirties a random leaf).
--   * idx_leads_tags (GIN): the only tags filter is the campaign audience (campanhas._filter_sql,
--     `l.tags @> ...`), always together with `l.tenant_id = ...`; the tenant-scoped index scan
--     (idx_leads_tenant_status / uk_tenant_lead) serves it, and no tags are written by any path yet.
--   * idx_telefones_tenant_tel (tenant_id, telefone), idx_emails_tenant_email (tenant_id, email): no query
--     looks a lead up by phone number or address (opt-outs match optouts.destino, campaigns and
--     reminders read contacts per lead through uk_lead_telefone / uk_lead_email, whose leading column is
--     lead_id, and tenant-wide scans use UNIQUE (tenant_id, telefone_id|email_id)).
-- Kept on purpose: primary keys, every UNIQUE (tenant isolation: uk_tenant_lead_externo, uk_tenant_lead,
-- uk_lead_telefone, uk_lead_email, (tenant_id, telefone_id|email_id) as foreign-key targets) and every
-- foreign key; idx_leads_tenant_status (lead listing, campaign status filter), idx_leads_job (job
-- metadata, campaign filter, ON DELETE SET NULL of ingest_jobs), idx_leads_tenant_arquivo (campaign
-- filter by file). Add an index back here when a query needs it.
DROP INDEX IF EXISTS idx_leads_documento;
DROP INDEX IF EXISTS idx_leads_tags;
DROP INDEX IF EXISTS idx_telefones_tenant_tel;
DROP INDEX IF EXISTS idx_emails_tenant_email;
