-- Sends the payloads users' sessions queued, oldest first, and forgets them.
WITH queued AS (DELETE FROM optischema.outbox RETURNING id, payload)
SELECT pg_catalog.pg_notify($1, payload) FROM (SELECT payload FROM queued ORDER BY id) q
