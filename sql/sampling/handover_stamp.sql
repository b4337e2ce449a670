-- The minute the sample's deltas go to, and the sample transaction's id: batches handed over
-- are numbered by it, so their numbers only grow.
SELECT extract(epoch FROM date_trunc('minute', now()))::int8, pg_catalog.pg_current_xact_id()::text::int8
