-- The E.164 check on lead_telefones.telefone, without a regular expression: the regex cost ~2.3 us per row
-- (0.25 s of the 0.9 s COPY of 109k phones in the ingest benchmark); these string functions accept exactly
-- the same values ('^\+55[1-9][0-9]{9,10}$': "+55", a digit 1-9, then 9 or 10 ASCII digits), which
-- tests/integration/test_phone_check.py checks against the regex on random input.
ALTER TABLE lead_telefones DROP CONSTRAINT lead_telefones_telefone_check;
ALTER TABLE lead_telefones ADD CONSTRAINT lead_telefones_telefone_check CHECK (
    octet_length(telefone) IN (13, 14)
    AND left(telefone, 3) = '+55'
    AND position(substr(telefone, 4, 1) IN '123456789') > 0
    AND ltrim(substr(telefone, 5), '0123456789') = ''
);
