-- $1 the apply worker's backend_type: the index build it runs now, if any, with its progress
-- (pg_stat_progress_create_index): the action, the recommendation, the phase, percent done.
SELECT a.id, a.recommendation_id, p.phase,
       CASE WHEN p.blocks_total > 0 THEN (100 * p.blocks_done / p.blocks_total)::int
            WHEN p.tuples_total > 0 THEN (100 * p.tuples_done / p.tuples_total)::int
       END
  FROM pg_catalog.pg_stat_progress_create_index p
  JOIN pg_catalog.pg_stat_activity s ON s.pid = p.pid AND s.backend_type = $1
  JOIN optischema.action_log a ON a.status = 'running'
 LIMIT 1
