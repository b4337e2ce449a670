-- $1 queryid. Its text, and the database it ran in when that is not the current one.
SELECT s.query,
       CASE WHEN NOT EXISTS (SELECT FROM optischema.history_all h
                              WHERE h.queryid = s.queryid
                                AND h.dbid = (SELECT oid FROM pg_catalog.pg_database
                                               WHERE datname = current_database()))
            THEN (SELECT d.datname::text FROM optischema.history_all h
                    JOIN pg_catalog.pg_database d ON d.oid = h.dbid
                   WHERE h.queryid = s.queryid LIMIT 1)
       END
  FROM optischema.statements s
 WHERE s.queryid = $1
