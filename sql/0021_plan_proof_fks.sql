-- The set-based foreign-key checks of 0008 keep their plans whatever the statistics say (issue #17).
--
-- The trap: `ANALYZE leads` run by another session (autovacuum) while a load is still uncommitted counts
-- none of the load's rows, so `leads` reads `reltuples = 0` over thousands of pages. The planner then sized
-- `leads` at one row and checked `COPY lead_telefones` (`NOT EXISTS … FROM leads`) as a Nested Loop Anti Join
-- over a Materialize of `leads`: one pass over every lead for every new phone (a 5,000-row check went from
-- 31 ms to 18.6 s at 165k leads; a 1M-row ingest sat for minutes).
--
-- Without Materialize, a nested loop that rescans a parent costs what the planner knows for certain, the
-- parent's current number of pages, on every rescan: the plan left is a hash (or merge) anti-join (one pass
-- over the parent) or index probes per row (the native key's plan), whichever is cheaper. Nested loops over
-- index probes stay allowed, so a statement of a few rows still probes the index instead of reading the
-- whole parent. The setting rides on the functions, so it covers every set-based key, both sides (the
-- parent's cascades and checks too) and both isolation branches, and nothing outside them.
-- BENCHMARKS.md (Ingest) has the figures behind this choice, against native foreign keys.
ALTER FUNCTION fk_conjunto_verificar() SET enable_material = off;
ALTER FUNCTION fk_conjunto_pai_excluido() SET enable_material = off;
