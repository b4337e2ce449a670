-- $1 relation, $2 relkinds (one letter each): its schema and name.
SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = $1 AND c.relkind::text = ANY (pg_catalog.string_to_array($2, NULL))
