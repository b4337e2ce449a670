-- $1: the hot list, $2: milliseconds the sample took, $3: pg_stat_statements' stats_reset.
UPDATE optischema.sampler_state s
   SET baseline_taken = true,
       pgss_stats_reset = $3,
       hot_top = $1,
       samples_taken = s.samples_taken + 1,
       last_sample_at = now(),
       last_sample_ms = $2
 WHERE s.id = 1
