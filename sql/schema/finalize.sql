-- Roles and privileges. Query text of other users is never visible to PUBLIC.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'optischema_reader') THEN
        CREATE ROLE optischema_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'optischema_admin') THEN
        CREATE ROLE optischema_admin NOLOGIN;
    END IF;
END
$$;
GRANT optischema_reader TO optischema_admin;

REVOKE ALL ON SCHEMA optischema FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA optischema FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA optischema FROM PUBLIC;

GRANT USAGE ON SCHEMA optischema TO optischema_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA optischema TO optischema_reader;
REVOKE ALL ON optischema.outbox FROM optischema_reader;

-- Statement texts follow pg_stat_statements' own rule: a role sees the texts of statements run
-- by roles it is a member of, and every text with pg_read_all_stats (superusers see all). The
-- workers are superusers, which row level security does not stop; the view over the texts runs
-- with its caller's rights.
-- What is derived from a statement's text (its recommendations, rewrites, the LLM's answers,
-- why it cannot be planned) follows the same rule; table-level findings have no statement.
CREATE FUNCTION optischema.may_read_statement(queryid bigint) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT $1 IS NULL
        OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
        OR EXISTS (SELECT FROM optischema.history_all h
                    WHERE h.queryid OPERATOR(pg_catalog.=) $1
                      AND pg_catalog.pg_has_role(current_user, h.userid, 'MEMBER'))
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['statements', 'recommendation_store', 'ai_cache', 'unexplainable'] LOOP
        EXECUTE format('ALTER TABLE optischema.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY readable ON optischema.%I FOR SELECT
                            USING (optischema.may_read_statement(queryid))', t);
    END LOOP;
END
$$;
ALTER VIEW optischema.recommendations SET (security_invoker = true);
GRANT EXECUTE ON FUNCTION
    optischema.hot_queries(interval, int, boolean),
    optischema.query_history(bigint, interval, interval, boolean),
    optischema.status(),
    optischema.databases(),
    optischema.explain(bigint),
    optischema.whatif(text, text[]),
    optischema.recommend_indexes(text)
    TO optischema_reader;

-- Admins change things only through functions (apply, revert, dismiss, ask, reset,
-- analyze_now): those check the caller and write as the extension's owner. No role but the
-- owner has INSERT, UPDATE or DELETE on any OptiSchema table.
GRANT EXECUTE ON FUNCTION optischema.reset() TO optischema_admin;

-- Recommendations: readers see them; admins analyse and dismiss.
CREATE FUNCTION optischema.dismiss(id bigint, reason text DEFAULT NULL)
RETURNS optischema.recommendations
LANGUAGE sql VOLATILE
AS $$
    SELECT optischema.dismiss_by_id($1, $2);
    -- a statement of its own, so it sees the change
    SELECT r.* FROM optischema.recommendations r WHERE r.id = $1;
$$;

REVOKE ALL ON FUNCTION optischema.dismiss(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION optischema.dismiss_by_id(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION optischema.analyze_now() FROM PUBLIC;
GRANT SELECT ON optischema.recommendations, optischema.recommendation_store, optischema.unexplainable
    TO optischema_reader;
GRANT EXECUTE ON FUNCTION optischema.analyze_now(), optischema.dismiss(bigint, text),
    optischema.dismiss_by_id(bigint, text) TO optischema_admin;

-- Captured parameter values can be personal data: admins only.
REVOKE ALL ON optischema.captured_params FROM optischema_reader;
GRANT SELECT ON optischema.captured_params TO optischema_admin;
-- and whatever a role holds otherwise: pg_read_all_data reads every table, but not past row
-- level security (the workers are superusers, which bypass it)
ALTER TABLE optischema.captured_params ENABLE ROW LEVEL SECURITY;
CREATE POLICY admins_only ON optischema.captured_params FOR SELECT
    USING (pg_catalog.pg_has_role(current_user, 'optischema_admin', 'MEMBER'));

-- The LLM layer: asking costs tokens, so only admins ask; readers see answers through the
-- recommendations view, and what calls cost through status().
GRANT SELECT ON optischema.ai_requests TO optischema_admin;
GRANT EXECUTE ON FUNCTION optischema.ask(bigint) TO optischema_admin;

-- Trying and applying fixes: admins only, and only through apply() and revert().
REVOKE ALL ON optischema.action_log, optischema.actions FROM optischema_reader;
GRANT SELECT ON optischema.action_log, optischema.actions TO optischema_admin;
GRANT EXECUTE ON FUNCTION optischema.apply(bigint, text), optischema.revert(bigint) TO optischema_admin;

-- This database is served from the commit of CREATE EXTENSION on, without a restart.
SELECT optischema.serve_this_database();
