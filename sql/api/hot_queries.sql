-- $1 since interval, $2 max_rows int, $3 whole_server bool. A bucket counts when any part of it
-- is in the window. Only the home database holds every database's history; elsewhere the
-- history is that database's own, so the filter changes nothing there. Shares are of the
-- statements shown: this database's time, or the server's.
WITH window_totals AS (
    SELECT h.queryid, h.dbid,
           sum(h.calls)::bigint             AS calls,
           sum(h.total_ms)                  AS total_ms,
           sum(h.rows)::bigint              AS rows,
           sum(h.shared_blks_hit)::bigint   AS shared_blks_hit,
           sum(h.shared_blks_read)::bigint  AS shared_blks_read,
           sum(h.temp_blks_written)::bigint AS temp_blks_written
      FROM optischema.history_all h
     WHERE h.bucket > now() - $1 - interval '1 minute'
       AND ($3 OR h.dbid = (SELECT oid FROM pg_catalog.pg_database
                             WHERE datname = current_database()))
     GROUP BY h.queryid, h.dbid
), grand AS (
    SELECT sum(total_ms) AS all_ms FROM window_totals
)
SELECT w.queryid, s.query, w.calls, w.total_ms,
       w.total_ms / nullif(w.calls, 0) AS mean_ms,
       w.rows, w.shared_blks_hit, w.shared_blks_read, w.temp_blks_written,
       coalesce(100.0 * w.total_ms / nullif(g.all_ms, 0), 0)::float8 AS pct_of_total_time,
       s.first_seen, s.last_seen, d.datname::text
  FROM window_totals w
 CROSS JOIN grand g
  LEFT JOIN optischema.statements s USING (queryid)
  LEFT JOIN pg_catalog.pg_database d ON d.oid = w.dbid
 ORDER BY w.total_ms DESC, w.calls DESC, w.queryid, w.dbid
 LIMIT $2
