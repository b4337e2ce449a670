-- $1 home database, $2 sequence number of the last batch taken, in the transaction that stored it.
UPDATE optischema.sampler_state SET handover_source = $1::oid, handover_seq = $2
