-- The oids of the databases that exist.
SELECT oid::int8 FROM pg_catalog.pg_database
