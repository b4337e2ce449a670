-- OptiSchema 0.1.0 -> 0.2.0: typed actions and the outbox of users' announcements.
-- Run by ALTER EXTENSION optischema UPDATE (a superuser, as CREATE EXTENSION); the catalog it
-- leaves is the one a fresh 0.2.0 install makes (tests/cluster/tests/upgrade.rs compares them).

-- Actions are typed: the worker rebuilds every statement from `plan` when it runs (see the
-- README's "Applying fixes"). Actions of 0.1.0 have no plan: one still queued or running would
-- run nothing, so it fails and is asked for again; what 0.1.0 applied is reverted by hand (its
-- `undo_sql` says how), since no typed undo was recorded.
ALTER TABLE optischema.action_log
    ADD COLUMN plan jsonb CHECK (jsonb_typeof(plan) = 'array'),
    ADD COLUMN undo jsonb CHECK (jsonb_typeof(undo) = 'array');
UPDATE optischema.action_log
   SET status = 'failed', finished_at = clock_timestamp(),
       error = 'queued before the update to OptiSchema 0.2.0: apply it again'
 WHERE status IN ('queued', 'running');
UPDATE optischema.action_log SET plan = '[]';
ALTER TABLE optischema.action_log ALTER COLUMN plan SET NOT NULL;

-- NOTIFY payloads from users' sessions, sent by the apply worker.
CREATE TABLE optischema.outbox (
    id        bigserial PRIMARY KEY,
    payload   text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON optischema.outbox FROM PUBLIC;

-- Every database of the server is served: the last batch of history a database took from the
-- sampler, and the call by which CREATE EXTENSION has a new database served without a restart.
ALTER TABLE optischema.sampler_state ADD COLUMN handover_source oid, ADD COLUMN handover_seq bigint;
CREATE FUNCTION optischema.serve_this_database() RETURNS void
    VOLATILE STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'serve_this_database_wrapper';
REVOKE ALL ON FUNCTION optischema.serve_this_database() FROM PUBLIC;
SELECT optischema.serve_this_database();
CREATE FUNCTION optischema.databases() RETURNS TABLE (
    "database" text, "state" text, "worker_pid" int, "batches_waiting" bigint
) STRICT STABLE SET search_path TO pg_catalog
  LANGUAGE c AS 'MODULE_PATHNAME', 'databases_wrapper';
REVOKE ALL ON FUNCTION optischema.databases() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION optischema.databases() TO optischema_reader;

-- hot_queries() and query_history() show this database's statements, or the whole server's
-- (in the home database, for members of pg_read_all_stats), and say which database.
DROP FUNCTION optischema.hot_queries(interval, int);
CREATE FUNCTION optischema.hot_queries(
    "since" interval DEFAULT '1 hour', "max_rows" int DEFAULT 20,
    "whole_server" boolean DEFAULT false
) RETURNS TABLE (
    "queryid" bigint, "query" text, "calls" bigint, "total_ms" double precision,
    "mean_ms" double precision, "rows" bigint, "shared_blks_hit" bigint,
    "shared_blks_read" bigint, "temp_blks_written" bigint, "pct_of_total_time" double precision,
    "first_seen" timestamptz, "last_seen" timestamptz, "database" text
) STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'hot_queries_wrapper';
DROP FUNCTION optischema.query_history(bigint, interval, interval);
CREATE FUNCTION optischema.query_history(
    "queryid" bigint, "since" interval DEFAULT '1 hour', "bucket" interval DEFAULT '1 minute',
    "whole_server" boolean DEFAULT false
) RETURNS TABLE (
    "bucket_start" timestamptz, "calls" bigint, "total_ms" double precision,
    "mean_ms" double precision, "rows" bigint
) STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'query_history_wrapper';
REVOKE ALL ON FUNCTION optischema.hot_queries(interval, int, boolean),
    optischema.query_history(bigint, interval, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION optischema.hot_queries(interval, int, boolean),
    optischema.query_history(bigint, interval, interval, boolean) TO optischema_reader;

-- status() says how this database is served: "home", or its state, its worker and the batches
-- waiting for it.
DROP FUNCTION optischema.status();
CREATE FUNCTION optischema.status() RETURNS TABLE (
    "enabled" bool, "worker_pid" int, "database" text, "sample_interval" interval,
    "last_sample_at" timestamptz, "last_sample_ms" double precision, "samples_taken" bigint,
    "statements_tracked" bigint, "history_rows" bigint, "last_error" text,
    "last_error_at" timestamptz, "ai_worker_pid" int, "ai_requests_waiting" bigint,
    "ai_tokens_today" bigint, "ai_token_budget_left" bigint, "ai_last_error" text,
    "ai_last_error_at" timestamptz, "served" text, "database_worker_pid" int,
    "batches_waiting" bigint
) STRICT VOLATILE SECURITY DEFINER SET search_path TO pg_catalog
  LANGUAGE c AS 'MODULE_PATHNAME', 'status_wrapper';
REVOKE ALL ON FUNCTION optischema.status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION optischema.status() TO optischema_reader;
