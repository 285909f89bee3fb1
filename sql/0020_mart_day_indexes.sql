-- Reporting mart: each daily partition exports the rows created on its day (disparos, their DLQ entries,
-- agendamentos). Without an index on the creation time that is a scan of the whole table per day (30 days
-- of a million disparos a day: 30 M rows read to export one).
--
-- Block-range indexes: rows arrive in creation order, so a range of pages holds a narrow span of creation
-- times. minmax-multi keeps a few intervals per range instead of one, so the new row versions that status
-- changes write into later pages (a disparo created yesterday, sent today) widen a range by a point, not by
-- a day. They cost next to nothing per insert (no btree entry per row, nothing on a status change) — the
-- send engine's claims and result writes do not pay for them — and autosummarize keeps the newest range
-- summarized without a VACUUM.
CREATE INDEX idx_disparos_created_brin ON disparos USING brin (created_at timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX idx_dlq_created_brin ON disparos_dlq USING brin (created_at timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX idx_agendamentos_criacao_brin ON agendamentos USING brin (data_criacao timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);
