-- $1 schema, $2 table: size, statistics freshness.
SELECT c.oid::int8, greatest(c.reltuples, 0)::float8, c.relpages::float8,
       coalesce(s.n_mod_since_analyze, 0)::int8
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'm')
