-- $1 relation: its schema, qualified name and kind, and whether it is the application's (not a
-- catalog's).
SELECT n.nspname::text, format('%I.%I', n.nspname, c.relname), c.relkind::text,
       n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = $1
