-- $1 queryids, $2 value sets (JSON text), one element per captured execution.
WITH sets AS (
    SELECT u.queryid, u.params::jsonb AS params, count(*) AS n
      FROM unnest($1::int8[], $2::text[]) AS u(queryid, params)
     GROUP BY 1, 2
)
INSERT INTO optischema.captured_params AS c (queryid, params, times_seen)
SELECT queryid, params, n FROM sets
    ON CONFLICT (queryid, params) DO UPDATE
   SET times_seen = c.times_seen + excluded.times_seen, last_seen = now()
