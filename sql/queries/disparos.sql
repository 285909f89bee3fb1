-- Single disparos (pipelines/core/disparos/single.py).

-- The lead's phone for a WhatsApp when none is given: principal first, a known mobile before an
-- unclassified one (telefones_whatsapp, sql/0016_telefones_whatsapp.sql, says which phones may get one).
-- name: telefone_padrao
SELECT telefone_id AS id, telefone AS destino FROM telefones_whatsapp
WHERE tenant_id = %(t)s AND lead_id = %(l)s
ORDER BY telefone_principal DESC, (tipo_origem = 'celular') DESC, data_criacao, telefone_id
LIMIT 1;

-- The phone the caller chose, with why it may not get a WhatsApp.
-- name: telefone_escolhido
SELECT p.telefone_id AS id, p.telefone AS destino, p.valido_para_disparo, p.tipo_origem,
       EXISTS (SELECT 1 FROM telefones_whatsapp w WHERE w.telefone_id = p.telefone_id) AS recebe_whatsapp
FROM lead_telefones p WHERE p.tenant_id = %(t)s AND p.lead_id = %(l)s AND p.telefone_id = %(id)s;

-- name: email_padrao
SELECT email_id AS id, email AS destino FROM lead_emails
WHERE tenant_id = %(t)s AND lead_id = %(l)s AND valido_para_disparo
ORDER BY email_principal DESC, data_criacao, email_id
LIMIT 1;

-- name: email_escolhido
SELECT email_id AS id, email AS destino, valido_para_disparo, NULL AS tipo_origem, TRUE AS recebe_whatsapp
FROM lead_emails WHERE tenant_id = %(t)s AND lead_id = %(l)s AND email_id = %(id)s;
