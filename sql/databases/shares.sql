-- $1 window in minutes. Each database's share of the server's statement time in the window,
-- for the databases that exist and accept connections, the databases with the most first.
SELECT h.dbid::int8, sum(h.total_ms) / nullif(sum(sum(h.total_ms)) OVER (), 0) AS share
  FROM optischema.history_all h
  JOIN pg_catalog.pg_database d ON d.oid = h.dbid
 WHERE h.bucket > now() - make_interval(mins => $1) - interval '1 minute'
   AND d.datallowconn AND NOT d.datistemplate AND d.datconnlimit <> -2
 GROUP BY h.dbid
HAVING sum(h.calls) > 0
 ORDER BY share DESC NULLS LAST
