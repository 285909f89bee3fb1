-- One rule for "which phone may get a WhatsApp", read by every path that picks one (campaigns and their
-- com_celular filter, single disparos, reminders to the lead, the ingest's contact count): a phone valid for
-- disparo (valido_para_disparo) that is a mobile.
--
-- tipo_origem: the ingest (pipelines/core/ingest/normalize.py) always writes 'celular' or 'fixo';
-- 'nao_classificado' is the column default, i.e. a row written without that classification (by hand, by an
-- older tool). Such a row is a mobile when its number has the mobile shape of the Brazilian numbering plan,
-- the same rule the ingest applies: +55, a 2-digit DDD, then 9 digits starting with 9 (14 characters in
-- E.164). Any other unclassified number (10 national digits: a landline, or a mobile written before the
-- ninth digit, which the ingest would have rewritten) gets no WhatsApp. A 'fixo' never does.
--
-- A plain view: the planner inlines it, so the campaign's set-based audience costs the same as with the
-- condition written out. security_invoker: row-level security of lead_telefones applies to the caller.
CREATE VIEW telefones_whatsapp WITH (security_invoker = true) AS
SELECT telefone_id, tenant_id, lead_id, telefone, telefone_principal, tipo_origem, data_criacao
FROM lead_telefones
WHERE valido_para_disparo
  AND (tipo_origem = 'celular'
       OR (tipo_origem = 'nao_classificado' AND length(telefone) = 14 AND substr(telefone, 6, 1) = '9'));

COMMENT ON VIEW telefones_whatsapp IS
    'Telefones que podem receber WhatsApp: válidos para disparo e celulares (ver sql/0016_telefones_whatsapp.sql).';
