-- The worker's state row, locked for the duration of the sample (reset() takes the same lock).
SELECT s.generation, s.baseline_taken,
       s.pgss_stats_reset IS DISTINCT FROM i.stats_reset AS pgss_reset_moved,
       s.hot_top, i.stats_reset
  FROM optischema.sampler_state s
 CROSS JOIN @pgss@.pg_stat_statements_info i
 WHERE s.id = 1
   FOR UPDATE OF s
