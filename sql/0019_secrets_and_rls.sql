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
