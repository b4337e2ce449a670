-- hot_queries() and query_history() read the per-minute history the worker stores. Here the
-- history is written by hand (the worker samples another database, so nothing else arrives):
-- three statements ran in the current minute, one of them also 90 minutes ago.
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;
CREATE ROLE regress_os_app;
CREATE ROLE regress_os_reader IN ROLE optischema_reader;

BEGIN;  -- one transaction, so that now() is the same moment throughout
INSERT INTO optischema.statements (queryid, query, first_seen, last_seen) VALUES
    (11, 'SELECT * FROM orders WHERE customer_id = $1', now() - interval '2 hours', now()),
    (22, 'SELECT count(*) FROM items', now() - interval '1 hour', now()),
    (33, 'UPDATE carts SET n = $1', now(), now());
-- per minute, role and database: calls, total_ms, rows, shared blocks hit and read, temp blocks
INSERT INTO optischema.history (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
                                shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT date_trunc('minute', now()) - m * interval '1 minute', q, r.oid, d.oid, true,
       calls, ms, rows, hit, read, temp
  FROM (VALUES (0, 11, 'postgres', 137, 274.0, 137, 500, 20, 0),
               (0, 11, 'regress_os_app', 3, 6.0, 3, 10, 0, 0),
               (0, 22, 'regress_os_app', 10, 100.0, 10, 0, 900, 64),
               (0, 33, 'postgres', 5, 20.0, 5, 1, 1, 0),
               (90, 33, 'postgres', 1000, 9000.0, 0, 0, 0, 0))
       AS v(m, q, role, calls, ms, rows, hit, read, temp)
  JOIN pg_roles r ON r.rolname = v.role
  JOIN pg_database d ON d.datname = current_database();
-- statement 11 also ran in another database: that database's calls are not this one's
INSERT INTO optischema.history (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
                                shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT date_trunc('minute', now()), 11, r.oid, d.oid, true, 50, 1000.0, 50, 0, 0, 0
  FROM pg_roles r, pg_database d
 WHERE r.rolname = 'postgres' AND d.datname = 'template1';

-- ranked by total time in the window (default: the last hour), summed over roles; the share
-- of all statements' time in the window; the old bucket of 33 is outside it
SELECT queryid, query, calls, total_ms, mean_ms, rows, shared_blks_hit, shared_blks_read,
       temp_blks_written, round(pct_of_total_time::numeric, 1) AS pct_of_total_time, database
  FROM optischema.hot_queries();
-- max_rows keeps the hottest
SELECT queryid, calls FROM optischema.hot_queries('1 hour', 1);
-- a wider window brings the old bucket in, and 33 becomes the hottest
SELECT queryid, calls, total_ms FROM optischema.hot_queries('3 hours');

-- one statement's history, per minute by default; buckets with no calls are left out
SELECT (extract(epoch FROM date_trunc('minute', now()) - bucket_start) / 60)::int AS minutes_ago,
       calls, total_ms, mean_ms, rows
  FROM optischema.query_history(33, '2 hours');
SELECT count(*) FROM optischema.query_history(33);
COMMIT;
-- every database's statements are shown in the home database (optischema.database), which
-- keeps the whole server's history, to members of pg_read_all_stats; this is not it
SELECT count(*) FROM optischema.hot_queries(whole_server => true);
\echo :LAST_ERROR_SQLSTATE

-- statement texts follow pg_stat_statements' rule: a reader sees the texts of statements run
-- by roles it is a member of (or all of them with pg_read_all_stats); the figures are for all
SET ROLE regress_os_reader;
SELECT queryid, query, calls FROM optischema.hot_queries();
RESET ROLE;
GRANT regress_os_app TO regress_os_reader;
SET ROLE regress_os_reader;
SELECT queryid, query, calls FROM optischema.hot_queries();
RESET ROLE;

-- what status() counts (worker and timing columns left out: they change)
SELECT enabled, database, extract(epoch FROM sample_interval) AS sample_interval_s,
       samples_taken, statements_tracked, history_rows
  FROM optischema.status();

-- reset() removes history, texts and the snapshot, and returns how many rows it removed
SELECT optischema.reset();
SELECT count(*) FROM optischema.hot_queries();
SELECT optischema.reset();

DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
DROP ROLE regress_os_reader, regress_os_app;
