-- $1 queryid, $2 window, $3 bucket (interval texts).
SELECT coalesce(json_agg(h ORDER BY h.bucket_start), '[]')::text
  FROM optischema.query_history($1::text::bigint, $2::text::interval, $3::text::interval) h
