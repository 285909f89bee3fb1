-- Reporting mart (pipelines/core/reports): what a daily partition exports from PostgreSQL, and what the
-- table observations and health checks read. A fact belongs to the day it was created on, in its tenant's
-- time zone; %(inicio)s / %(fim)s are the union of every tenant's day (day_bounds), so the scan of the
-- creation-time BRIN indexes (0020) covers that span once and the join keeps each tenant's own day.

-- name: day_bounds
SELECT min((%(dia)s::date)::timestamp AT TIME ZONE timezone) AS inicio,
       max((%(dia)s::date + 1)::timestamp AT TIME ZONE timezone) AS fim
FROM tenants

-- The day's disparos with their state now; em_dlq: it went to the DLQ at least once (a DLQ entry is
-- never older than its disparo).
-- name: day_disparos
WITH t AS MATERIALIZED (
    SELECT id, (%(dia)s::date)::timestamp AT TIME ZONE timezone AS inicio,
           (%(dia)s::date + 1)::timestamp AT TIME ZONE timezone AS fim
    FROM tenants
), q AS (
    SELECT DISTINCT tenant_id, disparo_id FROM disparos_dlq WHERE created_at >= %(inicio)s
)
SELECT d.tenant_id, d.disparo_id, d.campanha_id, d.canal, d.status, d.created_at, d.data_agendado,
       d.data_envio, d.data_retorno, d.tentativas, q.disparo_id IS NOT NULL AS em_dlq
FROM disparos d
JOIN t ON t.id = d.tenant_id AND d.created_at >= t.inicio AND d.created_at < t.fim
LEFT JOIN q ON q.tenant_id = d.tenant_id AND q.disparo_id = d.disparo_id
WHERE d.created_at >= %(inicio)s AND d.created_at < %(fim)s

-- The day's ingest jobs; leads_sem_contato is the ingest's own count (avisos), taken when it loaded.
-- name: day_ingest_jobs
SELECT j.tenant_id, j.job_id, j.arquivo_origem, j.origem, j.status, j.created_at, j.concluido_em,
       j.linhas_total, j.linhas_processadas, j.linhas_rejeitadas, j.leads_criados, j.leads_atualizados,
       j.telefones_criados, j.emails_criados,
       (j.avisos ->> 'leads_sem_contato_valido')::integer AS leads_sem_contato,
       (j.avisos ->> 'duracao_s')::double precision AS duracao_s,
       j.mensagem_erro
FROM ingest_jobs j
JOIN tenants t ON t.id = j.tenant_id
WHERE j.created_at >= %(inicio)s AND j.created_at < %(fim)s
  AND j.created_at >= (%(dia)s::date)::timestamp AT TIME ZONE t.timezone
  AND j.created_at < (%(dia)s::date + 1)::timestamp AT TIME ZONE t.timezone

-- Rejected lines of the day's jobs by column and reason (idx_rejeicoes_job per job).
-- name: day_ingest_rejeicoes
SELECT r.tenant_id, r.job_id, coalesce(r.coluna, '') AS coluna, r.motivo, count(*) AS linhas,
       min(r.linha) AS primeira_linha
FROM ingest_rejeicoes r
WHERE r.job_id IN (
    SELECT j.job_id FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
    WHERE j.created_at >= %(inicio)s AND j.created_at < %(fim)s
      AND j.created_at >= (%(dia)s::date)::timestamp AT TIME ZONE t.timezone
      AND j.created_at < (%(dia)s::date + 1)::timestamp AT TIME ZONE t.timezone
)
GROUP BY r.tenant_id, r.job_id, coalesce(r.coluna, ''), r.motivo

-- The day's agendamentos with their state now and their reminders (a reminder is created with or after
-- its agendamento).
-- name: day_agendamentos
WITH t AS MATERIALIZED (
    SELECT id, (%(dia)s::date)::timestamp AT TIME ZONE timezone AS inicio,
           (%(dia)s::date + 1)::timestamp AT TIME ZONE timezone AS fim
    FROM tenants
), l AS (
    SELECT tenant_id, agendamento_id,
           count(*) FILTER (WHERE status = 'enviado') AS enviados,
           count(*) FILTER (WHERE status = 'erro') AS falhas
    FROM agendamento_lembretes WHERE created_at >= %(inicio)s
    GROUP BY tenant_id, agendamento_id
)
SELECT a.tenant_id, a.agendamento_id, a.tipo, a.canal, a.status, a.data_criacao, a.data_agendada,
       a.realizado_em, a.cancelado_em, coalesce(l.enviados, 0) AS lembretes_enviados,
       coalesce(l.falhas, 0) AS lembretes_erro
FROM agendamentos a
JOIN t ON t.id = a.tenant_id AND a.data_criacao >= t.inicio AND a.data_criacao < t.fim
LEFT JOIN l ON l.tenant_id = a.tenant_id AND l.agendamento_id = a.agendamento_id
WHERE a.data_criacao >= %(inicio)s AND a.data_criacao < %(fim)s

-- name: tenant_campanha
SELECT 1 FROM campanhas WHERE tenant_id = %(tenant_id)s AND campanha_id = %(campanha_id)s

-- Observation of the product's tables: the statistics collector's counters, no table scan. The version
-- changes whenever a row is inserted, updated or deleted.
-- name: table_stats
SELECT c.relname AS tabela, greatest(c.reltuples, 0)::bigint AS linhas_estimadas,
       pg_total_relation_size(c.oid) AS bytes,
       coalesce(s.n_tup_ins, 0) AS inseridas, coalesce(s.n_tup_upd, 0) AS atualizadas,
       coalesce(s.n_tup_del, 0) AS excluidas, coalesce(s.n_live_tup, 0) AS vivas,
       greatest(s.last_analyze, s.last_autoanalyze) AS ultima_analise
FROM pg_class c
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relname = ANY(%(tabelas)s) AND c.relnamespace = 'public'::regnamespace

-- DLQ entries not re-driven: created in the last window, and all of them (idx_dlq_tenant).
-- name: dlq_growth
SELECT count(*) FILTER (WHERE created_at > now() - make_interval(mins => %(minutos)s)) AS novas,
       count(*) AS abertas
FROM disparos_dlq WHERE redrive_em IS NULL

-- Leases that expired more than the grace ago and nobody took back (idx_disparos_lease).
-- name: stuck_leases
SELECT count(*) AS presos, extract(epoch FROM now() - min(lease_ate))::double precision AS mais_antigo_s
FROM disparos WHERE status = 'enviando' AND lease_ate < now() - make_interval(mins => %(minutos)s)

-- Oldest due but unsent disparo per tenant and canal: one index probe each (idx_disparos_claim).
-- name: oldest_due
SELECT t.slug AS tenant, c.canal, extract(epoch FROM now() - o.mais_antigo)::double precision AS atraso_s
FROM tenants t
CROSS JOIN (VALUES ('whatsapp'), ('email')) AS c (canal)
CROSS JOIN LATERAL (
    SELECT min(d.data_agendado) AS mais_antigo FROM disparos d
    WHERE d.tenant_id = t.id AND d.canal = c.canal AND d.status = 'pendente'
) o
WHERE o.mais_antigo <= now()
ORDER BY o.mais_antigo
LIMIT 10

-- Ingest jobs that ended in erro, or stopped writing progress while processando, in the window.
-- name: failed_ingest_jobs
SELECT j.job_id, t.slug AS tenant, j.arquivo_origem AS arquivo, j.origem, j.status,
       coalesce(j.mensagem_erro, 'sem progresso desde ' || to_char(j.updated_at, 'YYYY-MM-DD HH24:MI TZ')) AS mensagem
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE (j.status = 'erro' AND j.updated_at > now() - make_interval(hours => %(horas)s))
   OR (j.status = 'processando' AND j.updated_at < now() - make_interval(mins => %(parado_minutos)s))
ORDER BY j.updated_at DESC
LIMIT 20
