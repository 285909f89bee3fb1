-- Reporting mart, DuckDB dialect (pipelines/core/reports). The build statements read the day's facts
-- from the table `f` (the day's export, loaded once); the read statements read the mart's views
-- (pipelines/core/reports/mart.py). Parameters are DuckDB's `$name`.

-- Delivery funnel of the day's disparos per tenant, canal and campanha (NULL: single disparos), by the
-- state each one is in now. taxa_falha: erro over the disparos that reached an outcome (enviado,
-- confirmado or erro); tempo até envio: from due (data_agendado) to accepted by the MCP (data_envio).
-- name: build_funil
SELECT * EXCLUDE (espera), espera[1] AS tempo_ate_envio_p50_s, espera[2] AS tempo_ate_envio_p95_s
FROM (
SELECT tenant_id, canal, campanha_id,
       count(*) AS criados,
       count(*) FILTER (WHERE status IN ('pendente', 'enviando')) AS pendentes,
       count(data_envio) AS enviados,
       count(*) FILTER (WHERE status = 'confirmado') AS confirmados,
       count(*) FILTER (WHERE status = 'erro') AS erro,
       count(*) FILTER (WHERE status = 'bloqueado') AS bloqueado,
       count(*) FILTER (WHERE status = 'cancelado') AS cancelado,
       count(*) FILTER (WHERE em_dlq) AS dlq,
       (count(*) FILTER (WHERE status = 'erro'))::DOUBLE
           / nullif(count(*) FILTER (WHERE status IN ('enviado', 'confirmado', 'erro')), 0) AS taxa_falha,
       quantile_cont(epoch(data_envio - data_agendado), [0.5, 0.95]) AS espera
FROM f
GROUP BY tenant_id, canal, campanha_id
)
ORDER BY tenant_id, canal, campanha_id NULLS FIRST

-- The day's funnel per canal over every tenant: the materialization's summary table.
-- name: summary_funil
SELECT * EXCLUDE (espera), espera[1] AS p50_s, espera[2] AS p95_s
FROM (
SELECT canal, count(DISTINCT tenant_id) AS tenants, count(*) AS criados, count(data_envio) AS enviados,
       count(*) FILTER (WHERE status = 'confirmado') AS confirmados,
       count(*) FILTER (WHERE status = 'erro') AS erro,
       count(*) FILTER (WHERE status = 'bloqueado') AS bloqueado,
       count(*) FILTER (WHERE em_dlq) AS dlq,
       (count(*) FILTER (WHERE status = 'erro'))::DOUBLE
           / nullif(count(*) FILTER (WHERE status IN ('enviado', 'confirmado', 'erro')), 0) AS taxa_falha,
       quantile_cont(epoch(data_envio - data_agendado), [0.5, 0.95]) AS espera
FROM f
GROUP BY canal
)
ORDER BY canal

-- Ingest jobs with their rates: rejected lines over lines read; leads with a phone or e-mail fit to send
-- to over the lines loaded.
-- name: build_ingest_jobs
SELECT *,
       linhas_rejeitadas::DOUBLE / nullif(linhas_total, 0) AS taxa_rejeicao,
       1 - leads_sem_contato::DOUBLE / nullif(linhas_processadas - linhas_rejeitadas, 0) AS taxa_contato_valido
FROM f
ORDER BY tenant_id, created_at, job_id

-- name: summary_ingest
SELECT status, origem, count(*) AS jobs, sum(linhas_total) AS linhas, sum(linhas_rejeitadas) AS rejeitadas,
       sum(linhas_processadas - linhas_rejeitadas - leads_sem_contato)::DOUBLE
           / nullif(sum(linhas_processadas - linhas_rejeitadas), 0) AS taxa_contato_valido
FROM f
GROUP BY status, origem
ORDER BY status, origem

-- Agendamentos of the day per tenant, tipo and canal, by their state now.
-- name: build_agendamentos
SELECT tenant_id, tipo, canal,
       count(*) AS criados,
       count(*) FILTER (WHERE status = 'pendente') AS pendentes,
       count(*) FILTER (WHERE status = 'realizado') AS realizados,
       count(*) FILTER (WHERE status = 'cancelado') AS cancelados,
       sum(lembretes_enviados)::BIGINT AS lembretes_enviados,
       sum(lembretes_erro)::BIGINT AS lembretes_erro
FROM f
GROUP BY tenant_id, tipo, canal
ORDER BY tenant_id, tipo, canal

-- name: summary_agendamentos
SELECT tipo, canal, count(DISTINCT tenant_id) AS tenants, count(*) AS criados,
       count(*) FILTER (WHERE status = 'realizado') AS realizados,
       count(*) FILTER (WHERE status = 'cancelado') AS cancelados,
       sum(lembretes_enviados)::BIGINT AS lembretes_enviados
FROM f
GROUP BY tipo, canal
ORDER BY tipo, canal

-- A tenant's funnel over a range of days (its own rows only).
-- name: read_funil
SELECT dia, canal, campanha_id, criados, pendentes, enviados, confirmados, erro, bloqueado, cancelado, dlq,
       taxa_falha, tempo_ate_envio_p50_s, tempo_ate_envio_p95_s
FROM funil
WHERE tenant_id = $tenant_id AND dia BETWEEN $de AND $ate
  AND ($canal IS NULL OR canal = $canal)
  AND ($campanha_id IS NULL OR campanha_id = $campanha_id)
ORDER BY dia, canal, campanha_id NULLS FIRST
