-- Ingest (pipelines/core/ingest/load.py and jobs.py). One load is one transaction; these run inside it.

-- Temp tables of a load: the file's keys (to find known leads) and known leads' rows and contacts.
-- name: load_temp_tables
CREATE TEMP TABLE t_keys (linha INTEGER, lead_id_externo TEXT COLLATE "C") ON COMMIT DROP;
CREATE TEMP TABLE t_leads (
    lead_id UUID, linha INTEGER, nome TEXT, contato_nome TEXT, documento TEXT, documento_tipo TEXT,
    email_raw TEXT, telefone_raw TEXT) ON COMMIT DROP;
CREATE TEMP TABLE t_tel (
    telefone_id UUID, lead_id UUID, telefone TEXT, tipo_origem TEXT, principal BOOLEAN) ON COMMIT DROP;
CREATE TEMP TABLE t_email (email_id UUID, lead_id UUID, email TEXT, principal BOOLEAN) ON COMMIT DROP;

-- name: tenant_has_leads
SELECT EXISTS (SELECT 1 FROM leads WHERE tenant_id = %(tenant)s) AS sim;

-- Which lines of the file are leads the tenant already has (re-import). Skipped for a tenant without leads.
-- name: known_leads
COPY (SELECT k.linha, l.lead_id
      FROM t_keys k JOIN leads l ON l.tenant_id = %(tenant)s AND l.lead_id_externo = k.lead_id_externo)
TO STDOUT (FORMAT csv);

-- A re-import keeps what the new file leaves blank (contato, documento, raw cells) and refreshes the rest.
-- name: update_known_leads
UPDATE leads l SET
    origem_arquivo = %(arquivo)s,
    origem_aba = %(aba)s,
    linha_planilha = t.linha,
    ingest_job_id = %(job)s,
    nome = t.nome,
    contato_nome = COALESCE(t.contato_nome, l.contato_nome),
    documento = COALESCE(t.documento, l.documento),
    documento_tipo = CASE WHEN t.documento IS NULL THEN l.documento_tipo ELSE t.documento_tipo END,
    email_raw = COALESCE(t.email_raw, l.email_raw),
    telefone_raw = COALESCE(t.telefone_raw, l.telefone_raw),
    data_ultimo_evento = now()
FROM t_leads t WHERE l.lead_id = t.lead_id AND l.tenant_id = %(tenant)s;

-- An existing lead gets the union: only unknown values are added, and a principal only when it has none yet.
-- name: union_known_phones
INSERT INTO lead_telefones (telefone_id, tenant_id, lead_id, telefone, telefone_principal, tipo_origem)
SELECT t.telefone_id, %(tenant)s, t.lead_id, t.telefone,
       t.principal AND NOT EXISTS (
           SELECT 1 FROM lead_telefones x WHERE x.lead_id = t.lead_id AND x.telefone_principal),
       t.tipo_origem
FROM t_tel t
ORDER BY t.lead_id, t.telefone
ON CONFLICT (lead_id, telefone) DO NOTHING;

-- name: union_known_emails
INSERT INTO lead_emails (email_id, tenant_id, lead_id, email, email_principal)
SELECT t.email_id, %(tenant)s, t.lead_id, t.email,
       t.principal AND NOT EXISTS (
           SELECT 1 FROM lead_emails x WHERE x.lead_id = t.lead_id AND x.email_principal)
FROM t_email t
ORDER BY t.lead_id, t.email
ON CONFLICT (lead_id, email) DO NOTHING;

-- name: job_insert
INSERT INTO ingest_jobs (tenant_id, arquivo_origem, arquivo_path, arquivo_sha256, aba, origem)
VALUES (%(tenant)s, %(arquivo)s, %(path)s, %(sha256)s, %(aba)s, %(origem)s)
RETURNING job_id;

-- -> processando, resetting counters (a re-run of a finished job replaces its result). A pendente job is
-- always claimable; a finished one unless only_pending; a processando one only with force, and then only
-- when idle for `stale` seconds (when given). Each claim is a new execucao_id (the runner's token: every
-- later write of the runner names it) and one more tentativa.
-- name: job_claim
UPDATE ingest_jobs SET status = 'processando', iniciado_em = now(), concluido_em = NULL,
    mensagem_erro = NULL, linhas_total = NULL, linhas_processadas = 0, linhas_rejeitadas = 0,
    leads_criados = 0, leads_atualizados = 0, telefones_criados = 0, emails_criados = 0,
    avisos = '{}', erros = '[]', updated_at = now(),
    execucao_id = gen_random_uuid(), tentativas = tentativas + 1
WHERE job_id = %(id)s AND (
    status = 'pendente'
    OR (status IN ('concluido', 'erro') AND NOT %(only_pending)s)
    OR (status = 'processando' AND %(force)s
        AND (%(stale)s::float8 IS NULL OR updated_at < now() - make_interval(secs => %(stale)s))))
RETURNING job_id, tenant_id, arquivo_origem, arquivo_path, aba, execucao_id;

-- Progress, or with both counts NULL just the heartbeat; no row when the job is no longer this runner's.
-- name: job_progress
UPDATE ingest_jobs SET linhas_processadas = COALESCE(%(done)s, linhas_processadas),
    linhas_total = COALESCE(%(total)s, linhas_total), updated_at = now()
WHERE job_id = %(id)s AND execucao_id = %(token)s AND status = 'processando';

-- name: job_concluido
UPDATE ingest_jobs SET status = 'concluido', concluido_em = now(), updated_at = now(),
    aba = %(aba)s, linhas_total = %(total)s, linhas_processadas = %(total)s, linhas_rejeitadas = %(rejeitadas)s,
    leads_criados = %(leads_criados)s, leads_atualizados = %(leads_atualizados)s,
    telefones_criados = %(telefones_criados)s, emails_criados = %(emails_criados)s,
    avisos = %(avisos)s, erros = %(erros)s
WHERE job_id = %(id)s AND execucao_id = %(token)s AND status = 'processando';

-- name: job_erro
UPDATE ingest_jobs SET status = 'erro', mensagem_erro = %(mensagem)s, concluido_em = now(), updated_at = now()
WHERE job_id = %(id)s AND execucao_id = %(token)s AND status = 'processando';

-- name: job_document
SELECT job_id, tenant_id, status, arquivo_origem, aba, origem, arquivo_sha256, linhas_total,
       linhas_processadas, linhas_rejeitadas, leads_criados, leads_atualizados, telefones_criados,
       emails_criados, avisos, erros, mensagem_erro, iniciado_em, concluido_em, created_at
FROM ingest_jobs WHERE tenant_id = %(tenant)s AND job_id = %(id)s;

-- Jobs of one tenant (every tenant's when tenant is NULL, the operator's view), newest first.
-- name: jobs_page
SELECT j.job_id, j.tenant_id, t.slug, j.status, j.arquivo_origem, j.aba, j.origem, j.arquivo_sha256,
       j.linhas_total, j.linhas_processadas, j.linhas_rejeitadas, j.leads_criados, j.leads_atualizados,
       j.telefones_criados, j.emails_criados, j.avisos, j.erros, j.mensagem_erro, j.iniciado_em,
       j.concluido_em, j.created_at
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE (%(tenant)s::uuid IS NULL OR j.tenant_id = %(tenant)s) AND (%(status)s::text IS NULL OR j.status = %(status)s)
ORDER BY j.created_at DESC, j.job_id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: jobs_count
SELECT count(*) AS n FROM ingest_jobs j
WHERE (%(tenant)s::uuid IS NULL OR j.tenant_id = %(tenant)s) AND (%(status)s::text IS NULL OR j.status = %(status)s);

-- name: rejects_page
SELECT linha, coluna, motivo, valores FROM ingest_rejeicoes
WHERE tenant_id = %(tenant)s AND job_id = %(id)s
ORDER BY linha, id LIMIT %(limit)s OFFSET %(offset)s;

-- Every reject of a job as CSV; {coluna}, {motivo}, {valores} are the text columns made safe for a
-- spreadsheet (pipelines.core.common.csvsafe.sql_safe).
-- name: rejects_csv
COPY (SELECT linha, {coluna} AS coluna, {motivo} AS motivo, {valores} AS valores FROM ingest_rejeicoes
      WHERE tenant_id = %(tenant)s AND job_id = %(id)s
      ORDER BY linha, id)
TO STDOUT WITH (FORMAT csv, HEADER);

-- Run coordination (pipelines.core.ingest.runs), cross-tenant by design: the orchestrator serves every
-- tenant. parado_s: seconds since the job last changed (a processando job's last heartbeat).
-- name: job_row
SELECT j.job_id, j.tenant_id, t.slug, j.arquivo_origem, j.arquivo_path, j.arquivo_sha256, j.aba, j.origem,
       j.status, j.created_at, extract(epoch FROM now() - j.updated_at)::float8 AS parado_s
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE j.job_id = %(id)s;

-- The tenant's latest job of a file with this content (of one origin when origem is given).
-- name: job_with_sha
SELECT j.job_id, j.tenant_id, t.slug, j.arquivo_origem, j.arquivo_path, j.arquivo_sha256, j.aba, j.origem,
       j.status, j.created_at, extract(epoch FROM now() - j.updated_at)::float8 AS parado_s
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE j.tenant_id = %(tenant)s AND j.arquivo_sha256 = %(sha256)s
  AND (%(origem)s::text IS NULL OR j.origem = %(origem)s)
ORDER BY j.created_at DESC
LIMIT 1;

-- pendente jobs nobody started, oldest first: the API's at once, the others once `grace` seconds old.
-- mudou_em: epoch seconds of the job's last change (when it became pendente).
-- name: pending_jobs
SELECT j.job_id, j.tenant_id, t.slug, j.arquivo_origem, j.origem, j.status, j.tentativas,
       extract(epoch FROM j.updated_at)::float8 AS mudou_em
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE j.status = 'pendente' AND (j.origem = 'api' OR j.updated_at < now() - make_interval(secs => %(grace)s))
ORDER BY j.created_at, j.job_id
LIMIT %(limit)s;

-- processando jobs whose runner stopped heartbeating: back to pendente while claims remain, else erro;
-- the reason (format templates `resumed`, `failed`) in mensagem_erro.
-- name: rescue_stale_jobs
UPDATE ingest_jobs SET
    status = CASE WHEN tentativas < %(max)s THEN 'pendente' ELSE 'erro' END,
    mensagem_erro = CASE WHEN tentativas < %(max)s THEN format(%(resumed)s, tentativas + 1, %(max)s)
                         ELSE format(%(failed)s, tentativas, job_id, job_id) END,
    concluido_em = CASE WHEN tentativas < %(max)s THEN NULL ELSE now() END,
    execucao_id = NULL, updated_at = now()
WHERE status = 'processando' AND updated_at < now() - make_interval(secs => %(stale)s)
RETURNING job_id, tenant_id, status, tentativas, mensagem_erro;

-- name: fail_pending_job
UPDATE ingest_jobs SET status = 'erro', mensagem_erro = %(mensagem)s, concluido_em = now(), updated_at = now()
WHERE job_id = %(id)s AND status = 'pendente';

-- Back to pendente, claims counted afresh: a job in erro, left pendente, or whose runner went silent.
-- name: retry_job
UPDATE ingest_jobs SET status = 'pendente', tentativas = 0, execucao_id = NULL, mensagem_erro = NULL,
    concluido_em = NULL, updated_at = now()
WHERE job_id = %(id)s AND (status IN ('erro', 'pendente')
      OR (status = 'processando' AND updated_at < now() - make_interval(secs => %(stale)s)))
RETURNING job_id;

-- Leads last written by a job, and how many have a phone that may get a WhatsApp or a valid e-mail.
-- name: contact_stats
SELECT count(*)::int AS leads,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM telefones_whatsapp p
                                      WHERE p.tenant_id = l.tenant_id AND p.lead_id = l.lead_id)
                           OR EXISTS (SELECT 1 FROM lead_emails e
                                      WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.lead_id
                                        AND e.valido_para_disparo))::int AS com_contato
FROM leads l WHERE l.tenant_id = %(tenant)s AND l.ingest_job_id = %(id)s;

-- Jobs that ended after `after` (epoch seconds), oldest first, but the fresh jobs of Dagster
-- re-materializations; for the sensor that reports ingests run outside Dagster to its instance.
-- name: finished_jobs_since
SELECT j.job_id, j.tenant_id, t.slug, j.arquivo_origem, j.origem, j.status, j.mensagem_erro,
       extract(epoch FROM j.concluido_em)::float8 AS terminou_em
FROM ingest_jobs j JOIN tenants t ON t.id = j.tenant_id
WHERE j.status IN ('concluido', 'erro') AND j.origem <> 'dagster'
  AND j.concluido_em > to_timestamp(%(after)s) AND NOT (j.job_id = ANY(%(exclude)s::uuid[]))
ORDER BY j.concluido_em, j.job_id
LIMIT %(limit)s;
