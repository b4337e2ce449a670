-- Who may do what. CREATE EXTENSION makes two roles: optischema_reader reads (hot queries,
-- history, status, plans, what-if, recommendations) and optischema_admin, a member of reader,
-- also acts (analyze_now, dismiss, apply, revert, ask, reset) and reads captured values and
-- actions. PUBLIC gets nothing in the schema.
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;

CREATE ROLE regress_os_reader IN ROLE optischema_reader;
CREATE ROLE regress_os_admin IN ROLE optischema_admin;
CREATE ROLE regress_os_nobody;
SELECT pg_has_role('optischema_admin', 'optischema_reader', 'MEMBER') AS admin_is_a_reader;

-- the functions
SELECT f AS function,
       has_function_privilege('regress_os_reader', f, 'EXECUTE') AS reader,
       has_function_privilege('regress_os_admin', f, 'EXECUTE') AS admin,
       has_function_privilege('regress_os_nobody', f, 'EXECUTE') AS nobody
  FROM unnest(ARRAY[
       'optischema.hot_queries(interval, integer, boolean)',
       'optischema.query_history(bigint, interval, interval, boolean)',
       'optischema.status()',
       'optischema.explain(bigint)',
       'optischema.whatif(text, text[])',
       'optischema.recommend_indexes(text)',
       'optischema.analyze_now()',
       'optischema.dismiss(bigint, text)',
       'optischema.apply(bigint, text)',
       'optischema.revert(bigint)',
       'optischema.ask(bigint)',
       'optischema.reset()']) AS f;

-- the tables and views: SELECT at most, for no role but the extension's owner writes in them
SELECT t AS relation,
       has_table_privilege('regress_os_reader', t, 'SELECT') AS reader,
       has_table_privilege('regress_os_admin', t, 'SELECT') AS admin,
       has_table_privilege('regress_os_nobody', t, 'SELECT') AS nobody,
       has_table_privilege('regress_os_admin', t, 'INSERT, UPDATE, DELETE, TRUNCATE') AS admin_writes
  FROM unnest(ARRAY[
       'optischema.recommendations',
       'optischema.statements',
       'optischema.history',
       'optischema.unexplainable',
       'optischema.captured_params',
       'optischema.actions',
       'optischema.action_log',
       'optischema.recommendation_store']) AS t;

-- a reader reads
SET ROLE regress_os_reader;
SELECT count(*) FROM optischema.hot_queries();
SELECT count(*) FROM optischema.query_history(42);
SELECT enabled, database FROM optischema.status();
SELECT count(*) FROM optischema.recommendations;
-- and may not act, nor read captured values or actions
SELECT optischema.reset();
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.analyze_now();
SELECT * FROM optischema.dismiss(1);
SELECT optischema.apply(1);
SELECT optischema.ask(1);
SELECT count(*) FROM optischema.captured_params;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM optischema.actions;
RESET ROLE;

-- an admin acts
SET ROLE regress_os_admin;
SELECT optischema.reset();
SELECT optischema.analyze_now();
SELECT count(*) FROM optischema.captured_params;
SELECT count(*) FROM optischema.actions;
-- through the functions only: no row can be written directly
DELETE FROM optischema.history;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO optischema.recommendation_store (kind) VALUES ('index');
RESET ROLE;

-- a role that was granted neither sees nothing
SET ROLE regress_os_nobody;
SELECT * FROM optischema.hot_queries();
\echo :LAST_ERROR_SQLSTATE
SELECT query FROM optischema.statements;
RESET ROLE;

-- a role that is not an admin but was granted EXECUTE anyway is still refused by the
-- function's own check, which says what to grant
GRANT USAGE ON SCHEMA optischema TO regress_os_nobody;
GRANT EXECUTE ON FUNCTION optischema.analyze_now() TO regress_os_nobody;
SET ROLE regress_os_nobody;
SELECT optischema.analyze_now();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE ALL ON FUNCTION optischema.analyze_now() FROM regress_os_nobody;
REVOKE ALL ON SCHEMA optischema FROM regress_os_nobody;

DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
DROP ROLE regress_os_reader, regress_os_admin, regress_os_nobody;
