-- $1 queryids: the stored texts of those a database is handed for the first time.
SELECT queryid, query FROM optischema.statements WHERE queryid = ANY ($1) AND query IS NOT NULL
