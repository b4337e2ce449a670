-- $1 index name: an invalid index of that name (what a failed build leaves), as the statement that drops it.
SELECT (SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', n.nspname, c.relname)
 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
WHERE c.relname = $1 AND c.relkind = 'i' AND NOT i.indisvalid LIMIT 1)
