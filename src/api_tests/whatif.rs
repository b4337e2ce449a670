//! `whatif()`: costs and sizes against HypoPG and real indexes, and bad input.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::{outcome_of, rejected};
    use pgrx::prelude::*;

    /// Costs and sizes of our hypothetical indexes against HypoPG's and against real indexes.
    #[pg_test]
    fn whatif_agrees_with_hypopg_and_with_real_indexes() {
        Spi::run(
            "CREATE EXTENSION IF NOT EXISTS hypopg;
             CREATE TABLE wi (a int, b int, c text, d timestamptz);
             INSERT INTO wi SELECT g, g % 1000, md5(g::text), now() - g * interval '1 second'
               FROM generate_series(1, 200000) g;
             ANALYZE wi;",
        )
        .unwrap();
        let cases: &[(&str, &str)] = &[
            ("SELECT * FROM wi WHERE a = 42", "CREATE INDEX ON wi (a)"),
            (
                "SELECT a FROM wi WHERE b = 7 ORDER BY a LIMIT 10",
                "CREATE INDEX ON wi (b, a)",
            ),
            (
                "SELECT c FROM wi WHERE b = 5",
                "CREATE INDEX ON wi (b) INCLUDE (c)",
            ),
            (
                "SELECT * FROM wi WHERE lower(c) = 'abc'",
                "CREATE INDEX ON wi (lower(c))",
            ),
            (
                "SELECT * FROM wi WHERE a < 500 AND b = 3",
                "CREATE INDEX ON wi (b) WHERE a < 500",
            ),
            (
                "SELECT * FROM wi WHERE c LIKE 'abc%'",
                "CREATE INDEX ON wi (c text_pattern_ops)",
            ),
            (
                "SELECT * FROM wi ORDER BY d DESC LIMIT 5",
                "CREATE INDEX ON wi (d DESC)",
            ),
            ("SELECT * FROM wi WHERE a = $1", "CREATE INDEX ON wi (a)"),
            (
                "SELECT * FROM wi WHERE b = 9 AND a > 10",
                "CREATE INDEX ON wi ((b), a)",
            ),
        ];
        let cost = |sql: &str| -> f64 {
            Spi::get_one::<pgrx::Json>(&format!("EXPLAIN (FORMAT JSON) {sql}"))
                .unwrap()
                .unwrap()
                .0[0]["Plan"]["Total Cost"]
                .as_f64()
                .unwrap()
        };
        for (query, index) in cases {
            let (used, before, after, size_mb) = Spi::connect(|c| {
                let r = c
                    .select(
                        "SELECT used, cost_before, cost_after, size_mb FROM optischema.whatif($1, ARRAY[$2])",
                        None,
                        &[(*query).into(), (*index).into()],
                    )
                    .unwrap()
                    .first();
                (
                    r.get::<bool>(1).unwrap().unwrap(),
                    r.get::<f64>(2).unwrap().unwrap(),
                    r.get::<f64>(3).unwrap().unwrap(),
                    r.get::<f64>(4).unwrap().unwrap(),
                )
            });
            assert!(used, "{index} not used for {query}");
            assert!(after < before, "{query}: {after} !< {before}");
            if query.contains('$') {
                continue;
            }
            // HypoPG, the reference implementation
            Spi::run_with_args("SELECT * FROM hypopg_create_index($1)", &[(*index).into()])
                .unwrap();
            let hypopg = cost(query);
            Spi::run("SELECT hypopg_reset()").unwrap();
            // the real thing
            Spi::run(&index.replace("CREATE INDEX ON", "CREATE INDEX wi_real ON")).unwrap();
            let real = cost(query);
            let real_mb =
                Spi::get_one::<f64>("SELECT pg_relation_size('wi_real') / 1048576.0::float8")
                    .unwrap()
                    .unwrap();
            Spi::run("DROP INDEX wi_real").unwrap();
            assert!(
                (after - real).abs() <= 0.10 * real,
                "{index}: ours {after}, real {real}"
            );
            // within 5% of HypoPG, unless nearer the real index than HypoPG is (tiny top-N
            // costs, where the tree height decides: 0.60 for us and the real index, 0.25 for it)
            assert!(
                (after - hypopg).abs() <= 0.05 * hypopg
                    || (after - real).abs() < (hypopg - real).abs(),
                "{index}: ours {after}, HypoPG {hypopg}, real {real}"
            );
            assert!(
                (size_mb - real_mb).abs() <= 0.20 * real_mb,
                "{index}: ours {size_mb} MB, real {real_mb} MB"
            );
        }
    }

    /// A multi-column key's distinct count comes from extended statistics when there are some,
    /// else from a sample, and the size follows; columns of a type a role defined, and a table
    /// that forces row-level security on its owner, are never sampled.
    #[pg_test]
    fn correlated_key_columns_are_counted_together() {
        Spi::run(
            "CREATE TABLE wg (p int, s int, d int, f int);
             -- 5,000 parts of 2 suppliers each: 10,000 pairs of 20 rows, not 5,000 × 10,000
             INSERT INTO wg SELECT g % 5000, 2 * (g % 5000) + (g / 5000) % 2, g % 5000, g
               FROM generate_series(1, 200000) g;
             ANALYZE wg;",
        )
        .unwrap();
        let size_mb = |index: &str| {
            Spi::get_one_with_args::<f64>(
                "SELECT size_mb FROM optischema.whatif('SELECT 1 FROM wg', ARRAY[$1])",
                &[index.into()],
            )
            .unwrap()
            .unwrap()
        };
        let real_mb = |index: &str| {
            Spi::run(&index.replacen(" ON ", " wg_real ON ", 1)).unwrap();
            let mb = Spi::get_one::<f64>("SELECT pg_relation_size('wg_real') / 1048576.0::float8")
                .unwrap()
                .unwrap();
            Spi::run("DROP INDEX wg_real").unwrap();
            mb
        };
        let pairs = "CREATE INDEX ON wg (p, s)";
        let (model, real) = (size_mb(pairs), real_mb(pairs));
        assert!(
            (model - real).abs() <= 0.10 * real,
            "model {model} MB, real {real} MB"
        );
        // as unique pairs, the model's size would be that of (p, f)
        let unique = size_mb("CREATE INDEX ON wg (p, f)");
        assert!(
            model < 0.7 * unique,
            "{model} MB against {unique} MB unique"
        );

        let relid = Spi::get_one::<pg_sys::Oid>("SELECT 'wg'::regclass")
            .unwrap()
            .unwrap();
        let sampled = crate::whatif::groups::distinct_keys(relid, &[1, 2], 30_000.0).unwrap();
        assert!((9_000.0..11_000.0).contains(&sampled), "{sampled}");
        // extended statistics: their figure, whatever the sample says
        Spi::run("CREATE STATISTICS wg_ps (ndistinct) ON p, s FROM wg; ANALYZE wg").unwrap();
        let stored = Spi::get_one::<String>(
            "SELECT n_distinct::text FROM pg_stats_ext WHERE statistics_name = 'wg_ps'",
        )
        .unwrap()
        .unwrap();
        let from_statistics = crate::whatif::groups::ndistinct_for(&stored, &[1, 2]).unwrap();
        assert_eq!(
            crate::whatif::groups::distinct_keys(relid, &[2, 1], 30_000.0),
            Some(from_statistics)
        );
        // p and d are the same column twice: one key per value of p
        let same = crate::whatif::groups::distinct_keys(relid, &[1, 3], 30_000.0).unwrap();
        assert!((4_500.0..5_500.0).contains(&same), "{same}");

        // a type a role defined: its equality is the role's code, never run here
        Spi::run(
            "CREATE DOMAIN wg_part AS int;
             CREATE TABLE wg_dom (p wg_part, s int);
             INSERT INTO wg_dom SELECT g % 50, g % 7 FROM generate_series(1, 1000) g;
             ANALYZE wg_dom;
             CREATE TABLE wg_rls (p int, s int);
             INSERT INTO wg_rls SELECT g % 50, g % 7 FROM generate_series(1, 1000) g;
             ANALYZE wg_rls;
             -- its owner would count the rows its policies hide from others
             ALTER TABLE wg_rls ENABLE ROW LEVEL SECURITY;",
        )
        .unwrap();
        for table in ["wg_dom", "wg_rls"] {
            let relid =
                Spi::get_one_with_args::<pg_sys::Oid>("SELECT $1::regclass", &[table.into()])
                    .unwrap()
                    .unwrap();
            assert_eq!(
                crate::whatif::groups::distinct_keys(relid, &[1, 2], 30_000.0),
                None,
                "{table}"
            );
        }

        // a type of the session's pg_temp (searched first for types) does not stand in for
        // pg_catalog's in the count: its cast would run as the table's owner (float8 for the
        // counts, point for a row's block)
        Spi::run(
            "CREATE SEQUENCE wg_casts;
             CREATE TYPE pg_temp.float8 AS (x int);
             CREATE FUNCTION pg_temp.to_float8(bigint) RETURNS pg_temp.float8
               LANGUAGE sql AS 'SELECT ROW(nextval(''wg_casts'')::int)::pg_temp.float8';
             CREATE CAST (bigint AS pg_temp.float8) WITH FUNCTION pg_temp.to_float8(bigint);
             CREATE TYPE pg_temp.point AS (x int);
             CREATE FUNCTION pg_temp.to_point(text) RETURNS pg_temp.point
               LANGUAGE sql AS 'SELECT ROW(nextval(''wg_casts'')::int)::pg_temp.point';
             CREATE CAST (text AS pg_temp.point) WITH FUNCTION pg_temp.to_point(text);
             CREATE TABLE wg_cast (p int, s int);
             INSERT INTO wg_cast SELECT g % 50, g % 7 FROM generate_series(1, 1000) g;
             ANALYZE wg_cast;",
        )
        .unwrap();
        let relid = Spi::get_one::<pg_sys::Oid>("SELECT 'wg_cast'::regclass")
            .unwrap()
            .unwrap();
        // 350 pairs, every row read (a table smaller than the sample)
        assert_eq!(
            crate::whatif::groups::distinct_keys(relid, &[1, 2], 30_000.0),
            Some(350.0)
        );
        assert_eq!(
            Spi::get_one::<bool>("SELECT is_called FROM wg_casts").unwrap(),
            Some(false)
        );
    }

    #[pg_test]
    fn whatif_rejects_bad_input_clearly() {
        Spi::run("CREATE TABLE wj (a int)").unwrap();
        rejected("SELECT * FROM optischema.whatif(NULL, ARRAY['CREATE INDEX ON wj (a)'])");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', NULL)");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', ARRAY[]::text[])");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', ARRAY['DROP TABLE wj'])");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', ARRAY['CREATE INDEX ON wj (nope)'])");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', ARRAY['CREATE INDEX ON wj USING gin (a)'])");
        rejected("SELECT * FROM optischema.whatif('VACUUM wj', ARRAY['CREATE INDEX ON wj (a)'])");
        // one statement only: the second one is never run, not even in a rolled-back subtransaction
        Spi::run("CREATE SEQUENCE wj_calls").unwrap();
        rejected("SELECT * FROM optischema.whatif('SELECT 1; SELECT nextval(''wj_calls'')', ARRAY['CREATE INDEX ON wj (a)'])");
        // sequences are not transactional: a run nextval() would show
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM wj_calls WHERE is_called").unwrap(),
            Some(0)
        );
        rejected("SELECT * FROM optischema.whatif('SELECT 1; DROP TABLE wj', ARRAY['CREATE INDEX ON wj (a)'])");
        rejected("SELECT * FROM optischema.whatif('SELECT * FROM wj', ARRAY['CREATE INDEX ON wj (a); DROP TABLE wj'])");
        assert_ne!(
            outcome_of(
                "SELECT * FROM optischema.whatif('SELECT 1', ARRAY['CREATE INDEX ON missing (a)'])"
            )
            .0,
            "00000"
        );
        assert_ne!(outcome_of("SELECT * FROM optischema.whatif('SELECT 1', ARRAY['CREATE INDEX ON wj ((random()))'])").0, "00000");
        assert_eq!(
            Spi::get_one::<bool>("SELECT to_regclass('wj') IS NOT NULL").unwrap(),
            Some(true)
        );
        // nothing was created, and the table is still there
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM pg_indexes WHERE tablename = 'wj'").unwrap(),
            Some(0)
        );
    }

    /// A cancel or a statement timeout while a statement is planned ends the call, as it ends
    /// any statement: it is not taken for a statement that cannot be planned, after which the
    /// rest of the call would run unbounded (the timeout fires once).
    #[pg_test]
    fn a_cancel_while_planning_ends_the_call() {
        Spi::run(
            "CREATE TABLE wq (a int);
             INSERT INTO wq SELECT g FROM generate_series(1, 1000) g;
             ANALYZE wq;
             CREATE FUNCTION wq_canceled() RETURNS int IMMUTABLE LANGUAGE plpgsql
               AS 'BEGIN RAISE query_canceled; END';",
        )
        .unwrap();
        // the planner folds the immutable call: planning raises what a cancel raises
        let query = "SELECT * FROM wq WHERE a = wq_canceled()";
        assert_eq!(
            outcome_of(&format!(
                "SELECT * FROM optischema.whatif('{query}', ARRAY['CREATE INDEX ON wq (a)'])"
            ))
            .0,
            "57014"
        );
        assert_eq!(
            outcome_of(&format!(
                "SELECT * FROM optischema.recommend_indexes('{query}')"
            ))
            .0,
            "57014"
        );
        // any other ERROR while planning is the statement's: refused as one that cannot be planned
        Spi::run(
            "CREATE OR REPLACE FUNCTION wq_canceled() RETURNS int IMMUTABLE LANGUAGE plpgsql
               AS 'BEGIN RAISE division_by_zero; END';",
        )
        .unwrap();
        let refused = outcome_of(&format!(
            "SELECT * FROM optischema.whatif('{query}', ARRAY['CREATE INDEX ON wq (a)'])"
        ))
        .0;
        assert_ne!(refused, "57014");
        assert_ne!(refused, "00000");
    }

    /// A reader who may not read a table learns nothing of it through `whatif`: not the plan
    /// costs of a statement that reads it (as EXPLAIN refuses), nor the size of an index on it,
    /// which comes from its columns' statistics.
    #[pg_test]
    fn whatif_tells_a_role_nothing_of_a_table_it_may_not_read() {
        Spi::run(
            "CREATE TABLE public.wk_secret (k int, v text);
             INSERT INTO public.wk_secret SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
             ANALYZE public.wk_secret;
             CREATE TABLE public.wk_open (k int);
             CREATE VIEW public.wk_view AS SELECT k FROM public.wk_secret;
             CREATE ROLE os_peek IN ROLE optischema_reader;
             GRANT SELECT ON public.wk_open, public.wk_view TO os_peek;",
        )
        .unwrap();
        let as_peek = |query: &str, index: &str| {
            outcome_of(&format!(
                "SET LOCAL ROLE os_peek; \
                 SELECT count(*) FROM optischema.whatif('{query}', ARRAY['{index}']); RESET ROLE"
            ))
            .0
        };
        let secret_query = "SELECT v FROM public.wk_secret WHERE k = 42";
        let secret_index = "CREATE INDEX ON public.wk_secret (k)";
        // the statement reads the table: directly, in a subquery, or in a CTE
        assert_eq!(as_peek(secret_query, secret_index), "42501");
        assert_eq!(
            as_peek(
                "SELECT 1 FROM public.wk_open o WHERE EXISTS (SELECT 1 FROM public.wk_secret s WHERE s.k = o.k)",
                "CREATE INDEX ON public.wk_open (k)"
            ),
            "42501"
        );
        assert_eq!(
            as_peek(
                "WITH s AS (SELECT k FROM public.wk_secret) SELECT count(*) FROM s",
                "CREATE INDEX ON public.wk_open (k)"
            ),
            "42501"
        );
        // the statement is allowed, the index is on the table it may not read
        assert_eq!(
            as_peek("SELECT k FROM public.wk_open WHERE k = 1", secret_index),
            "42501"
        );
        // a view it may read is planned with its owner's privileges, as a query would run
        assert_eq!(
            as_peek(
                "SELECT k FROM public.wk_view WHERE k = 42",
                "CREATE INDEX ON public.wk_open (k)"
            ),
            "00000"
        );
        // a column grant opens that column only
        Spi::run("GRANT SELECT (k) ON public.wk_secret TO os_peek").unwrap();
        assert_eq!(
            as_peek("SELECT k FROM public.wk_secret WHERE k = 42", secret_index),
            "00000"
        );
        assert_eq!(as_peek(secret_query, secret_index), "42501");
        assert_eq!(
            as_peek(
                "SELECT k FROM public.wk_secret WHERE k = 42",
                "CREATE INDEX ON public.wk_secret (k) INCLUDE (v)"
            ),
            "42501"
        );
        assert_eq!(
            as_peek(
                "SELECT k FROM public.wk_secret WHERE k = 42",
                "CREATE INDEX ON public.wk_secret (k) WHERE v > ''a''"
            ),
            "42501"
        );
        // the owner still gets the figures
        assert_eq!(
            outcome_of(&format!(
                "SELECT count(*) FROM optischema.whatif('{secret_query}', ARRAY['{secret_index}'])"
            ))
            .0,
            "00000"
        );
    }
}
