-- $1 window in minutes. The statements of this database in the window that may write
-- (INSERT, UPDATE, DELETE, MERGE, COPY, or a WITH in front of one), with their figures; the
-- parser decides which really write and where.
SELECT s.queryid, s.query, sum(h.calls)::bigint, sum(h.total_ms), sum(h.rows)::bigint
  FROM optischema.history_all h
  JOIN optischema.statements s USING (queryid)
 WHERE h.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND h.bucket > now() - make_interval(mins => $1) - interval '1 minute'
   AND s.query ~* '^\s*(insert|update|delete|merge|copy|with)\M'
 GROUP BY s.queryid, s.query
HAVING sum(h.calls) > 0
 ORDER BY sum(h.total_ms) DESC, s.queryid
 LIMIT 500
