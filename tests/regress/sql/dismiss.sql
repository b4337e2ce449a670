-- dismiss(id, reason) closes a recommendation for good: later analyses keep it dismissed.
-- A recommendation to dismiss: an application's statement that filters a table on
-- lower(email), with its history written by hand, and analyze_now() to find what would make it
-- faster. The admin is a member of the application's role: recommendations, like statement
-- texts, are shown to members of the role that ran the statement (and of pg_read_all_stats).
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;
CREATE ROLE regress_os_app;
CREATE ROLE regress_os_reader IN ROLE optischema_reader;
CREATE ROLE regress_os_admin IN ROLE optischema_admin, regress_os_app;

CREATE TABLE customers (id bigint PRIMARY KEY, email text);
INSERT INTO customers SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 20000) g;
ANALYZE customers;
GRANT SELECT ON customers TO regress_os_app;
INSERT INTO optischema.statements (queryid, query, first_seen, last_seen)
VALUES (102, 'SELECT id FROM customers WHERE lower(email) = lower($1)', now(), now());
INSERT INTO optischema.history (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
                                shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT date_trunc('minute', now()), 102, (SELECT oid FROM pg_roles WHERE rolname = 'regress_os_app'),
       d.oid, true, 3000, 30000.0, 3000, 0, 0, 0
  FROM pg_database d WHERE d.datname = current_database();

SET ROLE regress_os_admin;
SELECT optischema.analyze_now() AS open_recommendations;
SELECT id AS rec FROM optischema.recommendations \gset
SELECT kind, status, source, sql FROM optischema.recommendations;

-- a reader may not dismiss
SET ROLE regress_os_reader;
SELECT status FROM optischema.dismiss(:rec, 'not now');
\echo :LAST_ERROR_SQLSTATE

-- an admin may: dismiss returns the recommendation's row
SET ROLE regress_os_admin;
SELECT kind, status, dismissed_reason
  FROM optischema.dismiss(:rec, 'we never log in by email');
-- found again by the next analysis, it stays dismissed, and is still one row
SELECT optischema.analyze_now() AS open_recommendations;
SELECT kind, status, dismissed_reason FROM optischema.recommendations;
-- a dismissed recommendation can be neither applied nor tried, nor reverted
SELECT optischema.apply(:rec);
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.apply(:rec, 'trial');
SELECT optischema.revert(:rec);
-- dismissing it again without a reason keeps the reason given
SELECT status, dismissed_reason FROM optischema.dismiss(:rec);

-- ids that do not exist
SELECT * FROM optischema.dismiss(424242, 'no such thing');
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.apply(424242);
SELECT optischema.revert(424242);
RESET ROLE;

DROP TABLE customers;
DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
DROP ROLE regress_os_reader, regress_os_admin, regress_os_app;
