-- explain(queryid) plans a sampled statement's normalized text without running it. The
-- statements and their history are written by hand here, as the worker would store them.
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;

CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz);
INSERT INTO events SELECT g, 'k' || (g % 7), now() - g * interval '1 minute'
  FROM generate_series(1, 2000) g;
ANALYZE events;

INSERT INTO optischema.statements (queryid, query, first_seen, last_seen) VALUES
    (1, 'SELECT id FROM events WHERE at > now() - interval $1 AND kind = $2', now(), now()),
    (2, 'DELETE FROM events WHERE id > $1', now(), now()),
    (3, 'VACUUM events', now(), now()),
    (4, 'SELECT nope FROM missing_table', now(), now()),
    (5, 'SELECT 1', now(), now());
INSERT INTO optischema.history (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
                                shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT date_trunc('minute', now()), q, (SELECT oid FROM pg_roles WHERE rolname = current_user),
       d.oid, true, 1, 1.0, 1, 0, 0, 0
  FROM unnest(ARRAY[1, 2, 3, 4]) q, pg_database d
 WHERE d.datname = current_database();
-- statement 5 ran in another database
INSERT INTO optischema.history (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
                                shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT date_trunc('minute', now()), 5, (SELECT oid FROM pg_roles WHERE rolname = current_user),
       d.oid, true, 1, 1.0, 1, 0, 0, 0
  FROM pg_database d
 WHERE d.datname = 'postgres';

-- what comes back
SELECT jsonb_object_keys(optischema.explain(1)) AS key ORDER BY 1;
-- a typed literal that normalization broke (interval $1) is planned as $1::interval
SELECT optischema.explain(1) ->> 'planned_sql' AS planned_sql;
SELECT optischema.explain(1) #>> '{generic_plan,0,Plan,Node Type}' AS node,
       optischema.explain(1) #>> '{generic_plan,0,Plan,Relation Name}' AS relation;
-- a DELETE is planned, never run
SELECT optischema.explain(2) #>> '{generic_plan,0,Plan,Operation}' AS operation;
SELECT count(*) FROM events;
-- what cannot be planned says why
SELECT optischema.explain(3) ->> 'unexplainable' AS unexplainable;
SELECT optischema.explain(4) ->> 'unexplainable' AS unexplainable;
-- nothing is left behind
SELECT count(*) FROM pg_prepared_statements;

-- a queryid that was never sampled, and one whose statement ran in another database
SELECT optischema.explain(987654321);
\echo :LAST_ERROR_SQLSTATE
SELECT optischema.explain(5);
\echo :LAST_ERROR_SQLSTATE

DROP TABLE events;
DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
