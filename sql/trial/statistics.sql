-- $1 table: its extended statistics' definitions, to make on the copy.
SELECT pg_catalog.pg_get_statisticsobjdef(oid) FROM pg_catalog.pg_statistic_ext
 WHERE stxrelid = $1 ORDER BY oid
