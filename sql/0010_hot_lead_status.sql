-- Campaign creation: the lead status change (novo -> em_disparo, data_ultimo_evento) becomes a HOT update,
-- and a campaign's INSERT writes one index fewer.
--
-- A campaign over 100k leads updated 100k lead rows: each new row version went to another page (ingested
-- pages are full) and into every index of leads (~6.5 us per row here, 0.65-0.8 s per 100k). An update is
-- HOT (heap-only: same page, no index entries) when no indexed column changes and the page has room:
--   * leads keep half of each page free (fillfactor 50) for the next version of their rows. The ingest
--     COPY then writes twice the pages (+~0.03 s per 165k leads into an empty table, ~0.15 s into one
--     that already holds leads: more buffers to evict), and a status change costs ~1.5 us per row; later updates reuse the space the previous versions leave once pruned. Tables that
--     already hold leads keep their full pages until rewritten; new pages get the free space.
--   * idx_leads_tenant_status goes: status was its key and its predicate, so every status change was an
--     index change. Lists by status read the tenant's leads through uk_tenant_lead_externo (leading
--     tenant_id), as the filter on 'novo' (most of a tenant's leads) already did.
ALTER TABLE leads SET (fillfactor = 50);
DROP INDEX idx_leads_tenant_status;

-- disparos (tenant_id, disparo_id) existed only as the target of disparos_dlq's native foreign key: every
-- disparo paid for it (~0.1 s per 100k campaign disparos). The key becomes set-based like the others
-- (0008): the check probes the primary key and compares tenant_id on the row found.
ALTER TABLE disparos_dlq DROP CONSTRAINT disparos_dlq_tenant_id_disparo_id_fkey;
SELECT fk_conjunto_criar('disparos_dlq_tenant_id_disparo_id_fkey', 'disparos_dlq', 'tenant_id,disparo_id',
                         'disparos', 'tenant_id,disparo_id', 'cascade', false);
ALTER TABLE disparos DROP CONSTRAINT disparos_tenant_id_disparo_id_key;

-- A campaign's disparos by campaign (its counts by status, the CSV export, cancelling its pending ones):
-- a campaign's rows are written together, so a block-range index finds them; a bloom summary per range
-- stays selective when ranges mix campaigns (later applies, rows moved by updates). It costs next to
-- nothing per insert (the btree it replaces was ~0.1 s per 100k).
DROP INDEX idx_disparos_campanha;
CREATE INDEX idx_disparos_campanha ON disparos USING brin (campanha_id uuid_bloom_ops)
    WITH (pages_per_range = 16, autosummarize = on);
