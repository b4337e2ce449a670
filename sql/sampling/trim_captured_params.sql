-- $1 queryids: keep at most 20 sets each: the 15 seen most often, and of the others the 5
-- seen last.
WITH by_count AS (
    SELECT queryid, params, last_seen,
           row_number() OVER (PARTITION BY queryid ORDER BY times_seen DESC, last_seen DESC, params) AS rank
      FROM optischema.captured_params
     WHERE queryid = ANY ($1)
), rest AS (
    SELECT queryid, params,
           row_number() OVER (PARTITION BY queryid ORDER BY last_seen DESC, params) AS rank
      FROM by_count
     WHERE rank > 15
)
DELETE FROM optischema.captured_params c
 USING rest r
 WHERE c.queryid = r.queryid AND c.params = r.params AND r.rank > 5
