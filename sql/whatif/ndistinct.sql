-- $1 a table's oid. The ndistinct figures of its extended statistics, as pg_ndistinct texts
-- separated by U+0001; pg_stats_ext shows them to the table's owner, who runs this.
SELECT pg_catalog.string_agg(s.n_distinct::pg_catalog.text, E'\x01')
  FROM pg_catalog.pg_stats_ext s
  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) s.schemaname
  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid
                            AND c.relname OPERATOR(pg_catalog.=) s.tablename
 WHERE c.oid OPERATOR(pg_catalog.=) $1 AND NOT s.inherited AND s.n_distinct IS NOT NULL
