-- A new generation: the sampler drops the snapshot it holds and takes a new baseline.
UPDATE optischema.sampler_state
   SET generation = generation + 1, baseline_taken = false, hot_top = '{}'
 WHERE id = 1
