-- The suppression list (pipelines/core/disparos/optouts.py).

-- Bulk import: the file's valid lines are COPYed into this table, then inserted in one statement.
-- name: import_temp_table
CREATE TEMP TABLE _optout_import (canal TEXT, destino TEXT, motivo TEXT) ON COMMIT DROP;

-- name: import_copy
COPY _optout_import (canal, destino, motivo) FROM STDIN WITH (FORMAT csv);

-- A destination listed twice in the file counts once; one already opted out keeps its date and reason.
-- name: import_insert
INSERT INTO optouts (tenant_id, canal, destino, motivo)
SELECT DISTINCT ON (canal, destino) %(t)s, canal, destino, motivo FROM _optout_import
ORDER BY canal, destino
ON CONFLICT (tenant_id, canal, destino) DO NOTHING;
