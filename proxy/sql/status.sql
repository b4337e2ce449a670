-- The worker's status, one JSON object.
SELECT row_to_json(s)::text FROM optischema.status() s
