-- $1 status, or NULL for every one. Most valuable first.
SELECT coalesce(json_agg(r ORDER BY r.est_ms_saved_per_hour DESC NULLS LAST, r.id), '[]')::text
  FROM optischema.recommendations r
 WHERE $1::text IS NULL OR r.status = $1::text
