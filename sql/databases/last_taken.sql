-- The last batch this database took from the sampler: (home database, sequence number).
SELECT handover_source::int8, handover_seq FROM optischema.sampler_state FOR UPDATE
