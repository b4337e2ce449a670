-- $1 how many, $2 window in minutes, $3 one queryid or NULL for all. The hottest statements of this database in the window,
-- with the role that ran each most. Statements on OptiSchema's own objects (a dashboard's, a
-- DBA's calls) are monitoring, not the workload: they are not analysed. Of all, those recorded
-- as impossible to plan (utility statements: CREATE INDEX, COPY, VACUUM...) are left out before
-- the top is taken: a bulk load or an index build would otherwise hold the places of the
-- statements an analysis can help.
WITH mine AS (
    SELECT h.queryid, h.userid, h.calls, h.total_ms, h.rows, h.temp_blks_written
      FROM optischema.history_all h
     WHERE h.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
       AND h.bucket > now() - make_interval(mins => $2) - interval '1 minute'
       AND ($3::bigint IS NULL OR h.queryid = $3)
), per_statement AS (
    SELECT queryid, sum(calls)::bigint AS calls, sum(total_ms) AS total_ms, sum(rows)::bigint AS rows,
           sum(temp_blks_written)::bigint AS temp_blks_written
      FROM mine GROUP BY queryid
), top_role AS (
    SELECT DISTINCT ON (queryid) queryid, userid
      FROM mine GROUP BY queryid, userid ORDER BY queryid, sum(calls) DESC
)
SELECT p.queryid, s.query, p.calls, p.total_ms, p.rows, p.temp_blks_written,
       (SELECT rolname::text FROM pg_catalog.pg_roles WHERE oid = t.userid)
  FROM per_statement p
  JOIN optischema.statements s USING (queryid)
  LEFT JOIN top_role t USING (queryid)
 WHERE p.calls > 0
   AND s.query !~* '\moptischema\s*\.'
   AND ($3::bigint IS NOT NULL
        OR NOT EXISTS (SELECT FROM optischema.unexplainable u WHERE u.queryid = p.queryid))
 ORDER BY p.total_ms DESC, p.queryid
 LIMIT $1
