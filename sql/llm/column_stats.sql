-- $1 schema, $2 table: per-column statistics the planner uses.
SELECT attname::text, null_frac::float8, n_distinct::float8, correlation::float8
  FROM pg_catalog.pg_stats
 WHERE schemaname = $1 AND tablename = $2
 ORDER BY attname
