-- $1 queryid, $2 since interval, $3 bucket interval, $4 whole_server bool (every database's
-- calls, else this database's; see hot_queries.sql). Buckets with no calls are omitted.
SELECT date_bin($3, h.bucket, timestamptz '2000-01-01 00:00:00+00') AS bucket_start,
       sum(h.calls)::bigint  AS calls,
       sum(h.total_ms)       AS total_ms,
       sum(h.total_ms) / sum(h.calls) AS mean_ms,
       sum(h.rows)::bigint   AS rows
  FROM optischema.history_all h
 WHERE h.queryid = $1
   AND h.bucket > now() - $2 - interval '1 minute'
   AND ($4 OR h.dbid = (SELECT oid FROM pg_catalog.pg_database
                         WHERE datname = current_database()))
 GROUP BY 1
HAVING sum(h.calls) > 0
 ORDER BY 1
