-- $1 queryid, $2 how many: its most frequent captured value sets (SQL literals, $n order).
SELECT params::text, times_seen FROM optischema.captured_params
 WHERE queryid = $1 ORDER BY times_seen DESC, last_seen DESC LIMIT $2
