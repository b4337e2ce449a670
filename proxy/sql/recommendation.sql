-- $1 id.
SELECT row_to_json(r)::text FROM optischema.recommendations r WHERE r.id = $1::text::bigint
