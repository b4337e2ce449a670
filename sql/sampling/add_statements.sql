-- $1: queryids seen for the first time. Their text is read from pg_stat_statements once; a
-- utility statement's string literals (passwords, keys) are replaced by $n first.
INSERT INTO optischema.statements (queryid, query, first_seen, last_seen)
SELECT DISTINCT ON (p.queryid) p.queryid, optischema.stored_statement_text(p.query), now(), now()
  FROM @pgss@.pg_stat_statements(true) p
 WHERE p.queryid = ANY ($1)
 ORDER BY p.queryid, p.query IS NULL
    ON CONFLICT (queryid) DO UPDATE SET last_seen = excluded.last_seen,
       query = coalesce(optischema.statements.query, excluded.query)
