-- Tenants and API keys (pipelines/core/tenancy/tenants.py). Columns of a Tenant: id, slug, nome, timezone,
-- janela_envio, rate_limit_whatsapp, rate_limit_email, lembrete_minutos_padrao, equipe_canal, equipe_destino,
-- webhook_url, retencao_dias.

-- name: tenant_by_slug
SELECT id, slug, nome, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email,
       lembrete_minutos_padrao, equipe_canal, equipe_destino, webhook_url, retencao_dias
FROM tenants WHERE slug = %(slug)s AND ativo;

-- name: tenant_by_id
SELECT id, slug, nome, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email,
       lembrete_minutos_padrao, equipe_canal, equipe_destino, webhook_url, retencao_dias
FROM tenants WHERE id = %(id)s;

-- name: tenants_ativos
SELECT id, slug, nome, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email,
       lembrete_minutos_padrao, equipe_canal, equipe_destino, webhook_url, retencao_dias
FROM tenants WHERE ativo ORDER BY slug;

-- {sets}: "column = %(column)s" for each setting changed (names from a fixed list).
-- name: tenant_update
UPDATE tenants SET {sets}, updated_at = now() WHERE id = %(id)s
RETURNING id, slug, nome, timezone, janela_envio, rate_limit_whatsapp, rate_limit_email,
          lembrete_minutos_padrao, equipe_canal, equipe_destino, webhook_url, retencao_dias;

-- name: api_key_insert
INSERT INTO api_keys (tenant_id, prefixo, hash, nome) VALUES (%(t)s, %(prefixo)s, %(hash)s, %(nome)s);

-- name: api_key_revoke
UPDATE api_keys SET revogada_em = now()
WHERE tenant_id = %(t)s AND prefixo = %(prefixo)s AND revogada_em IS NULL;

-- name: api_keys_list
SELECT prefixo, nome, created_at, revogada_em, ultimo_uso_em FROM api_keys
WHERE tenant_id = %(t)s ORDER BY created_at;

-- The key (by its public prefix) with its active tenant; the caller compares the hash in constant time.
-- name: api_key_tenant
SELECT k.id AS key_id, k.hash, k.revogada_em,
       t.id, t.slug, t.nome, t.timezone, t.janela_envio, t.rate_limit_whatsapp, t.rate_limit_email,
       t.lembrete_minutos_padrao, t.equipe_canal, t.equipe_destino, t.webhook_url, t.retencao_dias
FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
WHERE k.prefixo = %(prefixo)s AND t.ativo;
