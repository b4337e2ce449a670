-- $1 queryid.
SELECT optischema.explain($1::text::bigint)::text
