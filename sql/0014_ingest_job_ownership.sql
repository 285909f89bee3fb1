-- Ingest jobs whose runner died: a claim token and a claim counter.
--   * execucao_id: set by every claim (pipelines.core.ingest.jobs._claim). The runner's heartbeat,
--     progress and final writes all name it, so a runner that lost its job (taken over or resumed after
--     it stopped heartbeating) can never write over the new runner's result: its load rolls back.
--   * tentativas: claims so far. A job whose runner keeps dying is resumed automatically a few times,
--     then failed with a message (pipelines.core.ingest.runs.rescue_stale_jobs) instead of looping.
-- Adding columns with constant defaults rewrites nothing (PostgreSQL 11+).
ALTER TABLE ingest_jobs
    ADD COLUMN execucao_id UUID,
    ADD COLUMN tentativas  INTEGER NOT NULL DEFAULT 0;

-- The rescuer's scan: jobs in processando by last heartbeat (a handful of rows at any time).
CREATE INDEX idx_jobs_processando ON ingest_jobs (updated_at) WHERE status = 'processando';
