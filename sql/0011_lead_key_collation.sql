-- lead_id_externo is an identifier, compared for equality and ordered only to find it: the "C" collation
-- compares bytes (memcmp) where the database's libc C.UTF-8 goes through strcoll for every comparison in
-- uk_tenant_lead_externo (each ingested lead enters it; ~6% of the leads COPY here). Both order UTF-8
-- text by code point, so no listing changes order.
ALTER TABLE leads ALTER COLUMN lead_id_externo TYPE text COLLATE "C";
