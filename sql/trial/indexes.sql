-- $1 table: its valid indexes' definitions, to build on the copy.
SELECT pg_catalog.pg_get_indexdef(indexrelid) FROM pg_catalog.pg_index
 WHERE indrelid = $1 AND indisvalid ORDER BY indexrelid
