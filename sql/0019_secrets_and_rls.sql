-- Webhook secrets encrypted at rest, revocable iCalendar feed tokens.

-- Fernet token of the tenant's webhook secret (pipelines/core/tenancy/secrets.py); the key lives outside
-- the database (DISPARO_AGENDA_SECRET_KEY or $DISPARO_AGENDA_HOME/secret.key). SQL cannot encrypt without
-- the key, so the plaintext column stays for now: `db migrate` seals every plaintext secret right after
-- applying the migrations and clears it (and a read seals any that remains).
ALTER TABLE tenants ADD COLUMN webhook_secret_cifrado TEXT;
COMMENT ON COLUMN tenants.webhook_secret IS
    'legacy plaintext webhook secret: sealed into webhook_secret_cifrado and cleared by db migrate';

-- Version of the tenant's .ics feed tokens: `tenant ics-rotate` increments it, revoking every feed URL.
-- 0 signs the token as before this column existed, so existing subscriptions keep working.
ALTER TABLE tenants ADD COLUMN ics_feed_versao INTEGER NOT NULL DEFAULT 0 CHECK (ics_feed_versao >= 0);

-- Row-level security: the second wall behind the tenant_id filters of every query.
--
-- api_lite runs a tenant's request as the role disparo_agenda_app (SET ROLE on its pooled connection, see
-- pipelines/core/common/db.py `act_as_tenant`) with the setting app.tenant_id = the tenant of the API key;
-- the policies below then let it see and write only that tenant's rows, even from a query that forgot
-- its filter. The role cannot log in; the connecting user (owner of the tables) becomes it with SET ROLE.
-- Table owners bypass RLS (no FORCE), so processes that legitimately work across tenants keep the owner
-- role: send workers and their claims, the ingest loader, Dagster, migrations, the CLI, the webhook (it
-- finds the tenant from the message id) and the .ics feed (from the token). They pay nothing for RLS.
--
-- The setting is read in a scalar subquery: evaluated once per statement, not per row; unset or empty it
-- is NULL and matches nothing (fail closed).
--
-- A table added later with a tenant_id column needs the same three statements (RLS, policy, grant), and a
-- view security_invoker and a grant: tests/integration/test_rls.py fails until they have them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'disparo_agenda_app') THEN
        BEGIN
            CREATE ROLE disparo_agenda_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- the migration of another database of this server created it meanwhile
        END;
    END IF;
    -- SET ROLE needs membership (PostgreSQL 16+: with the SET option, which the creator of a role does not
    -- get by default). Superusers need nothing.
    IF NOT pg_has_role(current_user, 'disparo_agenda_app',
                       CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
    THEN
        EXECUTE format('GRANT disparo_agenda_app TO %I', current_user);
    END IF;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO disparo_agenda_app', current_schema());
    FOR t IN
        SELECT c.relname FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO disparo_agenda_app '
            'USING (tenant_id = (SELECT NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)) '
            'WITH CHECK (tenant_id = (SELECT NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO disparo_agenda_app', t);
    END LOOP;
    -- Views read their tables with the view owner's rights unless security_invoker is set; with it, the
    -- tables' policies apply to the caller (telefones_whatsapp, 0016, already has it).
    FOR t IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER VIEW %I SET (security_invoker = true)', t);
        EXECUTE format('GRANT SELECT ON %I TO disparo_agenda_app', t);
    END LOOP;
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO disparo_agenda_app', current_schema());
END
$$;

-- The tenant row itself: its own settings only (api_keys, above, has tenant_id).
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO disparo_agenda_app
    USING (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));
GRANT SELECT, UPDATE ON tenants TO disparo_agenda_app;
