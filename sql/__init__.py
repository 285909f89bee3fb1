"""Forward-only migrations (NNNN_desc.sql), named queries (queries/<room>.sql) and the schema snapshot.

A package so that the files travel inside the wheel and are found with importlib.resources."""
