-- $1 window (interval text), $2 rows. The hot statements with a per-minute sparkline of their
-- total time over the window.
SELECT coalesce(json_agg(h ORDER BY h.total_ms DESC), '[]')::text
  FROM (SELECT q.*,
               (SELECT coalesce(json_agg(round(b.total_ms::numeric, 3) ORDER BY b.bucket_start), '[]')
                  FROM optischema.query_history(q.queryid, $1::text::interval, '1 minute') b) AS spark
          FROM optischema.hot_queries($1::text::interval, $2::text::int) q) h
