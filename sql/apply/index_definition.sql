-- $1 index: its definition (pg_get_indexdef) and its table.
SELECT pg_catalog.pg_get_indexdef(i.indexrelid), i.indrelid
FROM pg_catalog.pg_index i WHERE i.indexrelid = $1
