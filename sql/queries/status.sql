-- $1: the worker's backend_type.
SELECT (SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = $1 LIMIT 1),
       s.last_sample_at, s.last_sample_ms, s.samples_taken,
       (SELECT count(*) FROM optischema.statements),
       (SELECT count(*) FROM optischema.history_all),
       s.last_error, s.last_error_at
  FROM optischema.sampler_state s
 WHERE s.id = 1
