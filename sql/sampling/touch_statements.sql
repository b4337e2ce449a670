-- $1 queryids that ran: seen now (once a minute at most).
UPDATE optischema.statements SET last_seen = now()
 WHERE queryid = ANY($1) AND last_seen < date_trunc('minute', now())
