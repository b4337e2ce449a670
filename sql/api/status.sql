-- $1: the sampler's backend_type, $2: the AI worker's.
SELECT (SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = $1 LIMIT 1),
       s.last_sample_at, s.last_sample_ms, s.samples_taken,
       (SELECT count(*) FROM optischema.statements),
       (SELECT count(*) FROM optischema.history_all),
       s.last_error, s.last_error_at,
       (SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = $2 LIMIT 1),
       (SELECT count(*) FROM optischema.ai_requests WHERE status IN ('queued', 'running')),
       e.error, e.at
  FROM optischema.sampler_state s
  -- the latest failure: of a call, or of a request that could not be made
  LEFT JOIN LATERAL (
        SELECT error, at FROM (
            SELECT error, at FROM optischema.ai_calls WHERE error IS NOT NULL
            UNION ALL
            SELECT error, finished_at FROM optischema.ai_requests
             WHERE error IS NOT NULL AND status IN ('failed', 'skipped')) f
         ORDER BY at DESC NULLS LAST LIMIT 1) e ON true
 WHERE s.id = 1
