-- Set-based foreign keys on the bulk paths (ingest: leads and their contacts; campaigns: disparos).
--
-- A native foreign key checks every inserted row with its own index probe and row lock (measured
-- ~7-10 us per row and key here: 2 keys on 165k leads, 1 on 167k contacts, 4 on 100k disparos were most
-- of the ingest and campaign time). The same rule is enforced here once per statement: an AFTER ...
-- FOR EACH STATEMENT trigger with the statement's rows as a transition table checks, in one anti-join,
-- that every non-null key exists in the parent, and raises the same error as a native foreign key
-- (SQLSTATE 23503, constraint = trigger name). The parent side (ON DELETE CASCADE / SET NULL / NO
-- ACTION) is an AFTER DELETE statement trigger on the parent; AFTER TRUNCATE refuses to empty a parent
-- that still has children; keys referenced this way never change (a row trigger refuses it).
--
-- Concurrency (what the native key gets from row locks): under READ COMMITTED a child statement holds a
-- shared transaction-level advisory lock per (parent, first key column value: the tenant, or the job)
-- before it looks for its parents; a parent delete takes that lock exclusively before it cascades or
-- checks. So a delete waits for the inserts of that tenant in flight and then sees their children, and an
-- insert that comes after a delete sees the parent gone. Under REPEATABLE READ / SERIALIZABLE a child
-- statement locks its parent rows FOR KEY SHARE instead (set-based, one statement), which raises a
-- serialization failure on a concurrent delete, and a parent delete is refused (its snapshot could miss
-- children committed after it started). Nothing in the application deletes these parents.

CREATE FUNCTION fk_conjunto_verificar() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Child side. TG_ARGV: parent table, child columns, parent columns (comma-separated, same order).
DECLARE
    parent   text := TG_ARGV[0];
    ccols    text[] := string_to_array(TG_ARGV[1], ',');
    pcols    text[] := string_to_array(TG_ARGV[2], ',');
    keys     text;
    nn_cond  text;
    join_cond    text;
    shown    text;
    missing  text;
    part     text;
    parts    text[];
    n_keys   bigint;
    n_locked bigint;
    find_missing text;
BEGIN
    SELECT string_agg(format('%I', c), ', '), string_agg(format('%I IS NOT NULL', c), ' AND '),
           string_agg(format('k.%I::text', c), ', ')
      INTO keys, nn_cond, shown FROM unnest(ccols) c;
    SELECT string_agg(format('p.%I = k.%I', pc, cc), ' AND ')
      INTO join_cond FROM unnest(pcols, ccols) u(pc, cc);
    -- No DISTINCT: the planner then sizes the probe side by the statement's row count and picks a hash
    -- anti-join for a bulk statement (one pass over the parent) or index probes for a few rows.
    find_missing := format(
        'SELECT concat_ws('', '', %s) FROM novos k WHERE %s AND NOT EXISTS (SELECT 1 FROM %I p WHERE %s) LIMIT 1',
        shown, nn_cond, parent, join_cond);
    IF current_setting('transaction_isolation') = 'read committed' THEN
        EXECUTE format('SELECT array_agg(v::text ORDER BY v::text) FROM (SELECT DISTINCT %I AS v FROM novos) d '
                       'WHERE v IS NOT NULL', ccols[1]) INTO parts;
        FOREACH part IN ARRAY coalesce(parts, '{}') LOOP
            PERFORM pg_advisory_xact_lock_shared(hashtextextended('fk:' || parent || ':' || part, 0));
        END LOOP;
        IF array_length(ccols, 1) = 1 THEN
            -- A one-column key: its distinct values are already at hand (one scan of the statement's rows).
            EXECUTE format('SELECT v FROM unnest(%L::text[]) v WHERE NOT EXISTS (SELECT 1 FROM %I p WHERE p.%I = v::%s) LIMIT 1',
                           parts, parent, pcols[1],
                           (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                             WHERE attrelid = parent::regclass AND attname = pcols[1])) INTO missing;
        ELSE
            EXECUTE find_missing INTO missing;
        END IF;
    ELSE
        -- Parent keys are unique, so every key was found iff as many parent rows got locked.
        EXECUTE format(
            'SELECT (SELECT count(*) FROM (SELECT DISTINCT %s FROM novos WHERE %s) k), '
            '(SELECT count(*) FROM (SELECT 1 FROM %I p WHERE EXISTS ('
            'SELECT 1 FROM (SELECT DISTINCT %s FROM novos WHERE %s) k WHERE %s) FOR KEY SHARE OF p) l)',
            keys, nn_cond, parent, keys, nn_cond, join_cond) INTO n_keys, n_locked;
        IF n_locked < n_keys THEN
            EXECUTE find_missing INTO missing;
        END IF;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, TG_NAME
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME,
                  DETAIL = format('Key (%s)=(%s) is not present in table "%s".',
                                  array_to_string(ccols, ', '), missing, parent);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION fk_conjunto_pai_excluido() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Parent side of one key. TG_ARGV: child table, child columns, parent columns, action
-- (cascade | set_null | no_action).
DECLARE
    child   text := TG_ARGV[0];
    ccols   text[] := string_to_array(TG_ARGV[1], ',');
    pcols   text[] := string_to_array(TG_ARGV[2], ',');
    action  text := TG_ARGV[3];
    join_cond   text;
    pkeys   text;
    shown   text;
    still_ref   text;
    part    text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'delete on table "%" requires READ COMMITTED (set-based foreign key "%")', TG_TABLE_NAME, TG_NAME
            USING ERRCODE = 'feature_not_supported';
    END IF;
    FOR part IN EXECUTE format('SELECT v::text FROM (SELECT DISTINCT %I AS v FROM velhos) d ORDER BY 1', pcols[1]) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('fk:' || TG_TABLE_NAME || ':' || part, 0));
    END LOOP;
    SELECT string_agg(format('c.%I = v.%I', cc, pc), ' AND '), string_agg(format('%I', pc), ', '),
           string_agg(format('c.%I::text', cc), ', ')
      INTO join_cond, pkeys, shown FROM unnest(ccols, pcols) u(cc, pc);
    IF action = 'cascade' THEN
        EXECUTE format('DELETE FROM %I c USING (SELECT DISTINCT %s FROM velhos) v WHERE %s', child, pkeys, join_cond);
    ELSIF action = 'set_null' THEN
        EXECUTE format('UPDATE %I c SET %s FROM (SELECT DISTINCT %s FROM velhos) v WHERE %s', child,
                       (SELECT string_agg(format('%I = NULL', cc), ', ') FROM unnest(ccols) cc), pkeys, join_cond);
    ELSE
        EXECUTE format('SELECT concat_ws('', '', %s) FROM %I c JOIN (SELECT DISTINCT %s FROM velhos) v ON %s LIMIT 1',
                       shown, child, pkeys, join_cond) INTO still_ref;
        IF still_ref IS NOT NULL THEN
            RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "%"',
                  TG_TABLE_NAME, TG_NAME, child
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = child,
                      DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".',
                                      TG_ARGV[2], still_ref, child);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION fk_conjunto_pai_truncado() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- A parent emptied by TRUNCATE while the child still has rows (TRUNCATE both together is fine).
DECLARE
    child text := TG_ARGV[0];
    any_row boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', child) INTO any_row;
    IF any_row THEN
        RAISE EXCEPTION 'cannot truncate table "%" referenced by set-based foreign key "%" of table "%"',
              TG_TABLE_NAME, TG_NAME, child
            USING ERRCODE = 'feature_not_supported', HINT = format('Truncate table "%s" at the same time.', child);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION fk_conjunto_chave_fixa() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Keys covered by set-based foreign keys (a parent's key, a child's reference) never change.
BEGIN
    RAISE EXCEPTION 'column(s) % of table "%" cannot change (set-based foreign key "%")', TG_ARGV[0], TG_TABLE_NAME, TG_NAME
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
END
$fn$;

-- One set-based key: its child checks, parent actions and the fixed-key guards. `child_update` says
-- whether the child's reference may legitimately change (then UPDATEs are checked like INSERTs).
CREATE FUNCTION fk_conjunto_criar(name text, child text, ccols text, parent text, pcols text,
                                  action text, child_update boolean) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    cols text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(string_to_array(ccols, ',')) c);
    pcl  text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(string_to_array(pcols, ',')) c);
    cond text;
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS novos FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_verificar(%L, %L, %L)', name, child, parent, ccols, pcols);
    IF child_update THEN
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS novos FOR EACH STATEMENT '
                       'EXECUTE FUNCTION fk_conjunto_verificar(%L, %L, %L)', name || '_upd', child, parent, ccols, pcols);
    ELSE
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
          INTO cond FROM unnest(string_to_array(ccols, ',')) c;
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %s ON %I FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION fk_conjunto_chave_fixa(%L)', name || '_fixa', cols, child, cond, ccols);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = parent::regclass AND tgname = parent || '_chave_fixa') THEN
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
          INTO cond FROM unnest(string_to_array(pcols, ',')) c;
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %s ON %I FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION fk_conjunto_chave_fixa(%L)', parent || '_chave_fixa', pcl, parent, cond, pcols);
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_pai_excluido(%L, %L, %L, %L)', name || '_pai', parent, child,
                   ccols, pcols, action);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_pai_truncado(%L)', name || '_pai_truncate', parent, child);
END
$fn$;

-- Native keys replaced (same names, so errors read as before).
ALTER TABLE leads DROP CONSTRAINT leads_tenant_id_fkey, DROP CONSTRAINT leads_ingest_job_id_fkey;
ALTER TABLE lead_telefones DROP CONSTRAINT lead_telefones_tenant_id_lead_id_fkey;
ALTER TABLE lead_emails DROP CONSTRAINT lead_emails_tenant_id_lead_id_fkey;
ALTER TABLE disparos DROP CONSTRAINT disparos_tenant_id_lead_id_fkey,
                     DROP CONSTRAINT disparos_tenant_id_campanha_id_fkey,
                     DROP CONSTRAINT disparos_tenant_id_telefone_id_fkey,
                     DROP CONSTRAINT disparos_tenant_id_email_id_fkey;
ALTER TABLE agendamentos DROP CONSTRAINT agendamentos_tenant_id_lead_id_fkey;

SELECT fk_conjunto_criar('leads_tenant_id_fkey', 'leads', 'tenant_id', 'tenants', 'id', 'no_action', true);
SELECT fk_conjunto_criar('leads_ingest_job_id_fkey', 'leads', 'ingest_job_id', 'ingest_jobs', 'job_id', 'set_null', true);
SELECT fk_conjunto_criar('lead_telefones_tenant_id_lead_id_fkey', 'lead_telefones', 'tenant_id,lead_id',
                         'leads', 'tenant_id,lead_id', 'cascade', false);
SELECT fk_conjunto_criar('lead_emails_tenant_id_lead_id_fkey', 'lead_emails', 'tenant_id,lead_id',
                         'leads', 'tenant_id,lead_id', 'cascade', false);
SELECT fk_conjunto_criar('disparos_tenant_id_lead_id_fkey', 'disparos', 'tenant_id,lead_id',
                         'leads', 'tenant_id,lead_id', 'no_action', false);
SELECT fk_conjunto_criar('disparos_tenant_id_campanha_id_fkey', 'disparos', 'tenant_id,campanha_id',
                         'campanhas', 'tenant_id,campanha_id', 'no_action', false);
SELECT fk_conjunto_criar('disparos_tenant_id_telefone_id_fkey', 'disparos', 'tenant_id,telefone_id',
                         'lead_telefones', 'tenant_id,telefone_id', 'no_action', false);
SELECT fk_conjunto_criar('disparos_tenant_id_email_id_fkey', 'disparos', 'tenant_id,email_id',
                         'lead_emails', 'tenant_id,email_id', 'no_action', false);
SELECT fk_conjunto_criar('agendamentos_tenant_id_lead_id_fkey', 'agendamentos', 'tenant_id,lead_id',
                         'leads', 'tenant_id,lead_id', 'no_action', false);

-- Unique constraints that only existed as targets of those native keys: the checks probe the parent's
-- primary key (lead_id, telefone_id, email_id) and compare tenant_id on the row found. Each one was an
-- index every bulk insert paid for (~0.4 s per 165k leads here). Filters that used the two leads indexes
-- (campaign audience by source file or ingest job) are always tenant-scoped and read the tenant's leads
-- through uk_tenant_lead_externo (leading tenant_id); a job delete sets its leads' ingest_job_id to NULL in
-- one scan.
ALTER TABLE leads DROP CONSTRAINT uk_tenant_lead;
ALTER TABLE lead_telefones DROP CONSTRAINT lead_telefones_tenant_id_telefone_id_key;
ALTER TABLE lead_emails DROP CONSTRAINT lead_emails_tenant_id_email_id_key;
DROP INDEX idx_leads_tenant_arquivo;
DROP INDEX idx_leads_job;

-- Leads by status: every ingested lead is 'novo', and a filter on 'novo' reads most of the tenant's leads
-- anyway (through uk_tenant_lead_externo, whose leading column is tenant_id). Only the other statuses are
-- selective, so only they are indexed: the ingest no longer writes this index at all (~0.5 s per 165k).
DROP INDEX idx_leads_tenant_status;
CREATE INDEX idx_leads_tenant_status ON leads (tenant_id, status) WHERE status <> 'novo';
