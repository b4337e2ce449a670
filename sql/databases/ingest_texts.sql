-- $1 queryids, $2 their texts, as the sampler stored them (utility statements' literals
-- removed already). A text this database has is kept; it was seen again.
INSERT INTO optischema.statements (queryid, query, first_seen, last_seen)
SELECT u.queryid, u.query, now(), now()
  FROM unnest($1::int8[], $2::text[]) AS u(queryid, query)
    ON CONFLICT (queryid) DO UPDATE SET last_seen = excluded.last_seen,
       query = coalesce(optischema.statements.query, excluded.query)
