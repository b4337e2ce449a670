-- $1 schema, $2 name, $3 relkinds (one letter each): the relation's oid.
SELECT (SELECT c.oid FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
  AND c.relkind::text = ANY (pg_catalog.string_to_array($3, NULL)))
