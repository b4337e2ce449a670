-- $1 window, $2 statements, $3 bucket. The hottest statements' total time per bucket: the
-- buckets, and per statement one cell per bucket (0 when it did not run).
WITH top AS (
    SELECT queryid, query, total_ms FROM optischema.hot_queries($1::text::interval, $2::text::int)
), cells AS (
    SELECT t.queryid, b.bucket_start, b.total_ms
      FROM top t, optischema.query_history(t.queryid, $1::text::interval, $3::text::interval) b
), buckets AS (
    SELECT DISTINCT bucket_start FROM cells
), grid AS (
    -- every statement × every bucket, hash-joined to what ran
    SELECT t.queryid, b.bucket_start, coalesce(c.total_ms, 0) AS total_ms
      FROM top t CROSS JOIN buckets b
      LEFT JOIN cells c ON c.queryid = t.queryid AND c.bucket_start = b.bucket_start
), per_statement AS (
    SELECT queryid, json_agg(round(total_ms::numeric, 3) ORDER BY bucket_start) AS cells
      FROM grid GROUP BY queryid
)
SELECT json_build_object(
         'buckets', (SELECT coalesce(json_agg(bucket_start ORDER BY bucket_start), '[]') FROM buckets),
         'statements', (SELECT coalesce(json_agg(json_build_object(
                                  'queryid', t.queryid, 'query', t.query, 'total_ms', t.total_ms, 'cells', p.cells)
                                ORDER BY t.total_ms DESC), '[]')
                          FROM top t JOIN per_statement p USING (queryid)))::text
