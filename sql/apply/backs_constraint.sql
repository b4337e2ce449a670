-- $1 schema, $2 index: whether the index backs a constraint (primary key, unique, exclusion, foreign key).
SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint c
 JOIN pg_catalog.pg_class i ON i.oid = c.conindid
 JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = $1 AND i.relname = $2)
