-- $1: how many. Top statements by total time over the last 5 minutes (overlapping buckets), for
-- the hot_query payloads: figures only, never the text (anyone may LISTEN).
WITH recent AS (
    SELECT queryid, sum(calls)::bigint AS calls, sum(total_ms) AS total_ms
      FROM optischema.history_all
     WHERE bucket > now() - interval '6 minutes'
     GROUP BY queryid
     ORDER BY total_ms DESC, queryid
     LIMIT $1
)
SELECT r.queryid, r.calls, r.total_ms, r.total_ms / nullif(r.calls, 0)
  FROM recent r
 ORDER BY r.total_ms DESC, r.queryid
