-- Metrics, alarms, event publishing and housekeeping (pipelines/core/observability/). Cross-tenant by
-- design: the operator's view; tenants see none of it.

-- IngestJobsCompleted: finished ingest jobs per tenant and final status.
-- name: metric_ingest_jobs
SELECT tenant_id, status, count(*) AS n FROM ingest_jobs
WHERE status IN ('concluido', 'erro') GROUP BY tenant_id, status ORDER BY 1, 2;

-- LeadsCreated: leads created by ingest jobs, per tenant and job origin (cli, api, inbox, dagster).
-- name: metric_leads_created
SELECT tenant_id, origem, sum(leads_criados)::bigint AS n FROM ingest_jobs
WHERE status = 'concluido' GROUP BY tenant_id, origem ORDER BY 1, 2;

-- One scan of disparos for two metrics: DisparosSent (accepted by the MCP server: data_envio is set on
-- the accepted attempt) per tenant and canal, and the tenant-less gauge of disparos per canal and status.
-- name: disparos_counts
SELECT tenant_id, canal, status, count(*) AS n, count(data_envio) AS enviados FROM disparos
GROUP BY tenant_id, canal, status ORDER BY 1, 2, 3;

-- AgendamentosCriados: per tenant, tipo and canal.
-- name: metric_agendamentos
SELECT tenant_id, tipo, canal, count(*) AS n FROM agendamentos GROUP BY tenant_id, tipo, canal ORDER BY 1, 2, 3;

-- Sends that ended in [inicio, fim), from the disparo.completed events the send engine writes with each
-- result: enviados (accepted) and falhas (final erro, into the DLQ); per tenant, canal and period
-- (periodo 1: [inicio, meio), periodo 2: [meio, fim)).
-- name: failure_counts
SELECT tenant_id, payload->>'canal' AS canal,
       CASE WHEN created_at >= %(meio)s THEN 2 ELSE 1 END AS periodo,
       count(*) FILTER (WHERE payload->>'status' = 'enviado') AS enviados,
       count(*) FILTER (WHERE payload->>'status' = 'erro') AS falhas
FROM eventos_outbox
WHERE tipo = 'disparo-agenda.disparo.completed' AND created_at >= %(inicio)s AND created_at < %(fim)s
  AND payload->>'status' IN ('enviado', 'erro')
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- Aggregates without tenant labels (queue depth and outcomes).
-- name: gauge_disparos_devidos
SELECT canal, count(*) AS n FROM disparos WHERE status = 'pendente' AND data_agendado <= now()
GROUP BY canal ORDER BY 1;

-- name: gauge_dlq
SELECT canal, count(*) AS n FROM disparos_dlq WHERE redrive_em IS NULL GROUP BY canal ORDER BY 1;

-- name: gauge_ingest_jobs
SELECT status, count(*) AS n FROM ingest_jobs GROUP BY status ORDER BY 1;

-- name: gauge_agendamentos
SELECT status, count(*) AS n FROM agendamentos GROUP BY status ORDER BY 1;

-- Per tenant with a webhook, from its own index range (tenants without one keep their events unsent).
-- name: gauge_eventos_a_publicar
SELECT count(*) AS n FROM tenants t
JOIN eventos_outbox o ON o.tenant_id = t.id AND o.publicado_em IS NULL
WHERE t.ativo AND t.webhook_url IS NOT NULL;

-- name: gauge_alarmes_abertos
SELECT alarme, count(*) AS n FROM alarmes WHERE fechado_em IS NULL GROUP BY alarme ORDER BY 1;

-- Outbox delivery (outbox.py). Due events of every tenant with a webhook, oldest first per tenant, each
-- tenant's queue read from its own index range; locked (SKIP LOCKED) so two publishers never send the
-- same batch at once. A tenant whose oldest pending event is backing off (a failed delivery) waits whole:
-- events are delivered in order.
-- name: outbox_claim
SELECT e.id, e.tenant_id, e.tipo, e.entidade_id, e.payload, e.created_at, e.tentativas, t.webhook_url
FROM tenants t CROSS JOIN LATERAL (
    SELECT o.id, o.tenant_id, o.tipo, o.entidade_id, o.payload, o.created_at, o.tentativas
    FROM eventos_outbox o
    WHERE o.tenant_id = t.id AND o.publicado_em IS NULL
    ORDER BY o.id
    LIMIT %(batch)s
    FOR UPDATE OF o SKIP LOCKED
) e
WHERE t.ativo AND t.webhook_url IS NOT NULL
  AND coalesce((SELECT h.proxima_tentativa_em FROM eventos_outbox h
                WHERE h.tenant_id = t.id AND h.publicado_em IS NULL ORDER BY h.id LIMIT 1),
               '-infinity') <= now()
ORDER BY t.id, e.id;

-- name: outbox_delivered
UPDATE eventos_outbox SET publicado_em = now(), tentativas = tentativas + 1, ultimo_erro = NULL,
    proxima_tentativa_em = NULL
WHERE id = ANY(%(ids)s::bigint[]);

-- A failed delivery: the batch counts an attempt and waits (its oldest event holds the tenant's queue).
-- name: outbox_failed
UPDATE eventos_outbox SET tentativas = tentativas + 1, ultimo_erro = %(erro)s,
    proxima_tentativa_em = now() + make_interval(secs => %(espera)s)
WHERE id = ANY(%(ids)s::bigint[]);

-- Alarms (alarms.py). Ingest jobs of each tenant that ended in erro in [inicio, fim).
-- name: failed_ingest_jobs
SELECT tenant_id, count(*) AS n,
       jsonb_agg(jsonb_build_object('job_id', job_id, 'arquivo', arquivo_origem, 'origem', origem,
                                    'mensagem_erro', mensagem_erro) ORDER BY concluido_em) AS jobs
FROM ingest_jobs
WHERE status = 'erro' AND concluido_em >= %(inicio)s AND concluido_em < %(fim)s
GROUP BY tenant_id;

-- name: open_incidents
SELECT id, tenant_id, alarme, canal, aberto_em FROM alarmes WHERE fechado_em IS NULL;

-- At most one open incident per (tenant, alarm, canal): a second opening is a no-op.
-- name: open_incident
INSERT INTO alarmes (tenant_id, alarme, canal, aberto_em, detalhes)
VALUES (%(tenant)s, %(alarme)s, %(canal)s, %(agora)s, %(detalhes)s)
ON CONFLICT (tenant_id, alarme, canal) WHERE fechado_em IS NULL DO NOTHING
RETURNING id;

-- name: close_incident
UPDATE alarmes SET fechado_em = %(agora)s, detalhes_fim = %(detalhes)s WHERE id = %(id)s AND fechado_em IS NULL;

-- Notifications owed: the opening of every incident, the clearing of the closed ones; each claimed
-- (stamped) before it is sent, so two evaluators never both send it.
-- name: notifications_owed
SELECT a.id, a.tenant_id, a.alarme, a.canal, a.aberto_em, a.fechado_em, a.detalhes, a.detalhes_fim,
       CASE WHEN a.notificado_em IS NULL THEN 'abertura' ELSE 'fechamento' END AS fase,
       t.slug, t.nome, t.equipe_canal, t.equipe_destino
FROM alarmes a JOIN tenants t ON t.id = a.tenant_id
WHERE a.notificado_em IS NULL OR (a.fechado_em IS NOT NULL AND a.notificado_fim_em IS NULL)
ORDER BY a.id;

-- name: claim_notification
UPDATE alarmes SET notificado_em = CASE WHEN %(fase)s = 'abertura' THEN now() ELSE notificado_em END,
    notificado_fim_em = CASE WHEN %(fase)s = 'fechamento' THEN now() ELSE notificado_fim_em END
WHERE id = %(id)s AND CASE WHEN %(fase)s = 'abertura' THEN notificado_em IS NULL
                           ELSE fechado_em IS NOT NULL AND notificado_fim_em IS NULL END
RETURNING id, coalesce((detalhes->>'falhas_notificacao')::int, 0) AS falhas;

-- A notification that did not go: owed again; a refusal (not a timeout) also moves to a new
-- Idempotency-Key, since the MCP answers a repeated key with its first answer.
-- name: release_notification
UPDATE alarmes SET notificado_em = CASE WHEN %(fase)s = 'abertura' THEN NULL ELSE notificado_em END,
    notificado_fim_em = CASE WHEN %(fase)s = 'fechamento' THEN NULL ELSE notificado_fim_em END,
    ultimo_erro = %(erro)s,
    detalhes = CASE WHEN %(recusada)s
        THEN jsonb_set(detalhes, '{falhas_notificacao}',
                       to_jsonb(coalesce((detalhes->>'falhas_notificacao')::int, 0) + 1))
        ELSE detalhes END
WHERE id = %(id)s;

-- Housekeeping (housekeeping.py). A job's age: since it ended (jobs still pendente/processando never age).
-- Rejects of jobs older than their tenant's retention; the job notes when they went.
-- name: expire_rejects
WITH velhos AS (
    SELECT j.job_id FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
    WHERE j.status IN ('concluido', 'erro')
      AND coalesce(j.concluido_em, j.updated_at) < %(agora)s - make_interval(days => t.retencao_dias)
      AND EXISTS (SELECT 1 FROM ingest_rejeicoes r WHERE r.job_id = j.job_id)
), apagadas AS (
    DELETE FROM ingest_rejeicoes r USING velhos v WHERE r.job_id = v.job_id RETURNING r.job_id
), marcados AS (
    UPDATE ingest_jobs j SET avisos = j.avisos || jsonb_build_object('rejeicoes_removidas_em', %(agora)s::timestamptz)
    FROM velhos v WHERE j.job_id = v.job_id
)
SELECT (SELECT count(*) FROM apagadas) AS rejeicoes, (SELECT count(*) FROM velhos) AS jobs;

-- Stored sheets whose every job (of any tenant: the store is content-addressed) is past its tenant's
-- retention.
-- name: expired_files
SELECT j.arquivo_path
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE j.arquivo_path IS NOT NULL
GROUP BY j.arquivo_path
HAVING bool_and(j.status IN ('concluido', 'erro')
                AND coalesce(j.concluido_em, j.updated_at) < %(agora)s - make_interval(days => t.retencao_dias));

-- name: forget_files
UPDATE ingest_jobs SET arquivo_path = NULL,
    avisos = avisos || jsonb_build_object('arquivo_removido_em', %(agora)s::timestamptz)
WHERE arquivo_path = ANY(%(paths)s::text[]);

-- Outbox events older than their tenant's retention (delivered or not), a slice at a time.
-- name: expire_events
DELETE FROM eventos_outbox WHERE id IN (
    SELECT o.id FROM eventos_outbox o JOIN tenants t ON t.id = o.tenant_id
    WHERE o.created_at < %(agora)s - make_interval(days => t.retencao_dias)
    LIMIT %(lote)s);

-- The DLQ of each tenant: entries not re-driven, those that arrived in the last day, per canal, and the
-- most frequent errors; with the team's channel.
-- name: dlq_digest
SELECT t.id AS tenant_id, t.slug, t.nome, t.equipe_canal, t.equipe_destino, q.canal,
       count(*) AS pendentes,
       count(*) FILTER (WHERE q.created_at >= %(desde)s) AS novos,
       min(q.created_at) AS mais_antigo,
       (SELECT jsonb_agg(e) FROM (
            SELECT x.ultimo_erro AS erro, count(*) AS n FROM disparos_dlq x
            WHERE x.tenant_id = t.id AND x.canal = q.canal AND x.redrive_em IS NULL
            GROUP BY x.ultimo_erro ORDER BY count(*) DESC LIMIT 3) e) AS erros
FROM disparos_dlq q JOIN tenants t ON t.id = q.tenant_id
WHERE q.redrive_em IS NULL AND t.ativo
GROUP BY t.id, t.slug, t.nome, t.equipe_canal, t.equipe_destino, q.canal
ORDER BY t.slug, q.canal;
