-- Campaigns (pipelines/core/disparos/campanhas.py).
-- A statement with {placeholders} is a base composed with psycopg.sql: the placeholders take SQL built from
-- the campaign (its audience filter, its template rendered as one expression over lead columns); values
-- always travel as %(param)s, never as SQL text.

-- name: campanha_insert
INSERT INTO campanhas (tenant_id, nome, canal, template, filtro, variaveis, inicio, espalhar_minutos,
                       taxa_por_minuto)
VALUES (%(t)s, %(nome)s, %(canal)s, %(template)s, %(filtro)s, %(variaveis)s, %(inicio)s, %(espalhar)s,
        %(taxa)s)
RETURNING campanha_id, nome, canal, template, filtro, variaveis, inicio, espalhar_minutos, taxa_por_minuto,
          status, total_disparos, created_at;

-- name: campanha_lock
SELECT campanha_id, nome, canal, template, filtro, variaveis, inicio, espalhar_minutos, taxa_por_minuto,
       status, total_disparos, created_at
FROM campanhas WHERE tenant_id = %(t)s AND campanha_id = %(c)s
FOR UPDATE;

-- name: campanha_get
SELECT campanha_id, nome, canal, template, filtro, variaveis, inicio, espalhar_minutos, taxa_por_minuto,
       status, total_disparos, created_at
FROM campanhas WHERE tenant_id = %(t)s AND campanha_id = %(c)s;

-- name: campanha_list
SELECT campanha_id, nome, canal, template, filtro, variaveis, inicio, espalhar_minutos, taxa_por_minuto,
       status, total_disparos, created_at
FROM campanhas WHERE tenant_id = %(t)s
ORDER BY created_at DESC, campanha_id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: campanha_contagens
SELECT status, count(*) AS n FROM disparos WHERE tenant_id = %(t)s AND campanha_id = %(c)s GROUP BY status;

-- name: campanha_cancelar_disparos
UPDATE disparos SET status = 'cancelado', updated_at = now()
WHERE tenant_id = %(t)s AND campanha_id = %(c)s AND status = 'pendente';

-- Audience filters on leads `l` (com_celular / com_email).
-- name: filtro_tem_celular
EXISTS (SELECT 1 FROM telefones_whatsapp x WHERE x.tenant_id = l.tenant_id AND x.lead_id = l.lead_id);

-- name: filtro_tem_email
EXISTS (SELECT 1 FROM lead_emails x WHERE x.tenant_id = l.tenant_id AND x.lead_id = l.lead_id
        AND x.valido_para_disparo);

-- The destination of each lead on the campaign's channel: its principal phone that may get a WhatsApp
-- (telefones_whatsapp, sql/0016_telefones_whatsapp.sql) / its principal valid e-mail.
-- name: destino_whatsapp
SELECT DISTINCT ON (lead_id) lead_id, telefone_id AS dest_id, telefone AS destino
FROM telefones_whatsapp WHERE tenant_id = %(t)s
ORDER BY lead_id, telefone_principal DESC, data_criacao, telefone_id;

-- name: destino_email
SELECT DISTINCT ON (lead_id) lead_id, email_id AS dest_id, email AS destino
FROM lead_emails WHERE tenant_id = %(t)s AND valido_para_disparo
ORDER BY lead_id, email_principal DESC, data_criacao, email_id;

-- The lead `a` already has an active disparo of this campaign (re-apply only).
-- name: ja_ativo
EXISTS (SELECT 1 FROM disparos x
        WHERE x.campanha_id = %(c)s AND x.lead_id = a.lead_id
          AND x.campanha_id IS NOT NULL AND x.status IN ('pendente', 'enviando', 'enviado', 'confirmado'));

-- The partial unique index uq_disparos_campanha_lead_ativo arbitrates a concurrent re-apply.
-- name: sem_duplicar_ativo
ON CONFLICT (campanha_id, lead_id)
WHERE campanha_id IS NOT NULL AND status IN ('pendente', 'enviando', 'enviado', 'confirmado') DO NOTHING;

-- 1. The audience with its destination and exclusion flags, and the schedule slot of each eligible lead.
-- {lead_cols}: the lead fields templates may use; {where}: the audience filter; {dest_join}: JOIN when the
-- filter requires a destination on the campaign's channel, else LEFT JOIN; {dest}: destino_whatsapp or
-- destino_email; {missing}: a template variable is null; {ja_ativo}: ja_ativo, or false for a new campaign.
-- name: audiencia
CREATE TEMP TABLE _campanha_aud ON COMMIT DROP AS
WITH aud AS (
    SELECT l.lead_id, l.data_ingestao, l.linha_planilha, {lead_cols}
    FROM leads l WHERE {where}
),
dest AS (
    SELECT a.*, d.dest_id, d.destino,
           (d.dest_id IS NOT NULL AND o.destino IS NOT NULL) AS optout,
           ({missing}) AS falta_var,
           {ja_ativo} AS ja_ativo
    FROM aud a
    {dest_join} ({dest}) d ON d.lead_id = a.lead_id
    LEFT JOIN optouts o ON o.tenant_id = %(t)s AND o.canal = %(canal)s AND o.destino = d.destino
),
flag AS (
    SELECT dest.*, (dest_id IS NOT NULL AND NOT optout AND NOT falta_var AND NOT ja_ativo) AS elegivel FROM dest
)
SELECT f.*, row_number() OVER (PARTITION BY elegivel ORDER BY data_ingestao, linha_planilha, lead_id) - 1 AS seq
FROM flag f;

-- name: audiencia_contagens
SELECT count(*) AS audiencia,
       count(*) FILTER (WHERE dest_id IS NULL) AS sem_destino,
       count(*) FILTER (WHERE optout) AS optout,
       count(*) FILTER (WHERE dest_id IS NOT NULL AND NOT optout AND falta_var) AS variavel_ausente,
       count(*) FILTER (WHERE dest_id IS NOT NULL AND NOT optout AND NOT falta_var AND ja_ativo) AS ja_ativo,
       count(*) FILTER (WHERE elegivel) AS elegiveis
FROM _campanha_aud;

-- 2. Lead status: novo -> em_disparo for every lead that gets a disparo.
-- name: marcar_leads
UPDATE leads l SET status = CASE WHEN l.status = 'novo' THEN 'em_disparo' ELSE l.status END,
                   data_ultimo_evento = now()
FROM _campanha_aud e WHERE e.elegivel AND l.tenant_id = %(t)s AND l.lead_id = e.lead_id;

-- 3. The one INSERT … SELECT creating every disparo, rendered in SQL. No ORDER BY: each row's id and slot
-- come from its seq, and the temp table already holds the rows in seq order (as written).
-- {uuid}: the UUIDv7 of row seq; {ids}: telefone_id, email_id; {payload}: the rendered payload;
-- {schedule}: data_agendado of row seq; {conflict}: empty for a new campaign, else sem_duplicar_ativo.
-- name: inserir_disparos
INSERT INTO disparos (disparo_id, tenant_id, lead_id, campanha_id, canal, telefone_id, email_id, destino,
                      template, payload, data_agendado)
SELECT {uuid}, %(t)s, e.lead_id, %(c)s, %(canal)s, {ids}, e.destino, %(template)s, {payload}, {schedule}
FROM _campanha_aud e WHERE e.elegivel
{conflict};

-- name: total_disparos
UPDATE campanhas SET total_disparos = total_disparos + %(criados)s WHERE tenant_id = %(t)s AND campanha_id = %(c)s;

-- Per-lead results, streamed by COPY. {cols}: the CSV columns.
-- name: export_csv
COPY (SELECT {cols}
      FROM disparos d JOIN leads l ON l.tenant_id = d.tenant_id AND l.lead_id = d.lead_id
      WHERE d.tenant_id = %(t)s AND d.campanha_id = %(c)s
      ORDER BY d.data_agendado, d.disparo_id)
TO STDOUT WITH (FORMAT csv, HEADER);
