-- Bad arguments. Every one is refused before anything is read, with SQLSTATE 22023
-- (invalid_parameter_value), a message naming the argument and a HINT saying what to pass.
-- (psql's :LAST_ERROR_SQLSTATE shows the code of the error just raised.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;

-- hot_queries(since interval DEFAULT '1 hour', max_rows int DEFAULT 20,
--             whole_server boolean DEFAULT false)
SELECT * FROM optischema.hot_queries(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.hot_queries('-1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.hot_queries('0 seconds');
SELECT * FROM optischema.hot_queries('1 hour', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.hot_queries('1 hour', 10001);
SELECT * FROM optischema.hot_queries('1 hour', NULL);
SELECT * FROM optischema.hot_queries(whole_server => NULL);
-- the limits themselves are accepted (no history yet: no rows)
SELECT count(*) FROM optischema.hot_queries('1 hour', 10000);
SELECT count(*) FROM optischema.hot_queries('1 hour', 1);

-- query_history(queryid bigint, since interval DEFAULT '1 hour', bucket interval DEFAULT '1 minute',
--               whole_server boolean DEFAULT false)
SELECT * FROM optischema.query_history(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.query_history(1, NULL);
SELECT * FROM optischema.query_history(1, '-5 minutes');
SELECT * FROM optischema.query_history(1, '1 hour', NULL);
SELECT * FROM optischema.query_history(1, '1 hour', '0 seconds');
-- a bucket is at least the sample interval (10 s) and the 1-minute storage bucket
SELECT * FROM optischema.query_history(1, '1 hour', '5 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.query_history(1, '1 hour', '30 seconds');
-- buckets have a fixed width: no months
SELECT * FROM optischema.query_history(1, '1 day', '1 month');
-- at most 100,000 buckets: 69 days of minutes is 99,360, a year is too many
SELECT count(*) FROM optischema.query_history(1, '69 days', '1 minute');
SELECT * FROM optischema.query_history(1, '1 year', '1 minute');
\echo :LAST_ERROR_SQLSTATE
-- an unknown queryid is no error: it has no history
SELECT count(*) FROM optischema.query_history(424242);

-- explain(queryid bigint)
SELECT optischema.explain(NULL);
\echo :LAST_ERROR_SQLSTATE

-- whatif(query text, indexes text[])
SELECT * FROM optischema.whatif(NULL, ARRAY['CREATE INDEX ON t (a)']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.whatif('   ', ARRAY['CREATE INDEX ON t (a)']);
SELECT * FROM optischema.whatif('SELECT 1', NULL);
SELECT * FROM optischema.whatif('SELECT 1', ARRAY[]::text[]);
SELECT * FROM optischema.whatif('SELECT 1', ARRAY['CREATE INDEX ON t (a)', NULL]);

-- recommend_indexes(query text DEFAULT NULL): NULL means the whole workload, blank is refused
SELECT * FROM optischema.recommend_indexes('  ');
\echo :LAST_ERROR_SQLSTATE

-- the admin functions check their arguments too (the caller here is a superuser)
SELECT optischema.apply(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.apply(1, 'now');
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.apply(1, NULL);
SELECT optischema.revert(NULL);
SELECT optischema.ask(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.dismiss(NULL);
\echo :LAST_ERROR_SQLSTATE

DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
