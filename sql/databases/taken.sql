-- $1 home database, $2 sequence number of the last batch taken, in the transaction that stored
-- it; $3 how many batches it stored, counted (with when) as this database's samples in status().
UPDATE optischema.sampler_state
   SET handover_source = $1::oid, handover_seq = $2,
       samples_taken = samples_taken + $3,
       last_sample_at = CASE WHEN $3 > 0 THEN now() ELSE last_sample_at END
