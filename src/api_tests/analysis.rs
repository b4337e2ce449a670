//! `analyze_now()` on a planted workload: the expected recommendations and nothing else, the
//! minimum improvement, a fix that already exists.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::plant_workload;
    use pgrx::prelude::*;

    fn recommendations() -> Vec<(Option<i64>, String, String, String)> {
        Spi::connect(|c| {
            c.select("SELECT queryid, kind, status, sql FROM optischema.recommendations ORDER BY queryid NULLS LAST, sql", None, &[])
                .unwrap()
                .map(|r| (r.get(1).unwrap(), r.get(2).unwrap().unwrap(), r.get(3).unwrap().unwrap(), r.get(4).unwrap().unwrap()))
                .collect()
        })
    }

    #[pg_test]
    fn analysis_finds_the_planted_problems_and_nothing_else() {
        plant_workload();
        let open = Spi::get_one::<i64>("SELECT optischema.analyze_now()")
            .unwrap()
            .unwrap();
        let recs = recommendations();
        let expected: Vec<(Option<i64>, String, String, String)> = vec![
            (
                Some(101),
                "index".into(),
                "open".into(),
                "CREATE INDEX CONCURRENTLY ON public.shop_orders (customer_id, created_at DESC)"
                    .into(),
            ),
            (
                Some(102),
                "index".into(),
                "open".into(),
                "CREATE INDEX CONCURRENTLY ON public.shop_customers ((lower(email)))".into(),
            ),
            (
                None,
                "drop_index".into(),
                "open".into(),
                "DROP INDEX CONCURRENTLY public.shop_orders_status_unused".into(),
            ),
        ];
        assert_eq!(recs, expected);
        assert_eq!(open, 3);
        // both index proposals were checked with the planner, the index in place hypothetically
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM optischema.recommendations WHERE kind = 'index' AND source = 'whatif'")
                .unwrap(),
            Some(2)
        );
        // one index serves statements 101 and 103; 101 spends the most time, so it is the
        // recommendation's statement
        let served = Spi::get_one::<pgrx::JsonB>(
            "SELECT jsonb_path_query_array(evidence, '$.statements_helped[*].queryid') FROM optischema.recommendations WHERE queryid = 101",
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(served, serde_json::json!([101, 103]));
        // estimates: the model's costs, the share saved and the saving per hour
        let (pct, saved) = Spi::get_two::<f64, f64>(
            "SELECT est_improvement_pct, est_ms_saved_per_hour FROM optischema.recommendations WHERE queryid = 102",
        )
        .unwrap();
        let pct = pct.unwrap();
        assert!(pct > 0.0 && pct <= 100.0, "{pct}");
        // 3000 calls in the 1-hour window, 10 ms each, pct of it saved
        assert!((saved.unwrap() - 3000.0 * 10.0 * pct / 100.0).abs() < 1e-6);
        // the typed-literal statement was planned; the utility statement recorded once
        let unexplainable =
            Spi::get_two::<i64, String>("SELECT queryid, reason FROM optischema.unexplainable")
                .unwrap();
        assert_eq!(unexplainable.0, Some(108));
        assert!(!unexplainable.1.unwrap().is_empty());
    }

    #[pg_test]
    fn statements_that_cannot_be_planned_give_their_places_in_the_top_to_ones_that_can() {
        plant_workload();
        // a bulk load and index builds fill the top (optischema.hot_top_n, 20): each took more
        // time than any query of the workload
        Spi::run(
            "INSERT INTO optischema.statements
             SELECT 200 + g, CASE WHEN g = 1 THEN 'COPY shop_orders FROM STDIN'
                                  ELSE format('CREATE INDEX i%s ON shop_orders (status, id)', g) END,
                    now(), now()
               FROM generate_series(1, 20) g;
             INSERT INTO optischema.history
             SELECT date_trunc('minute', now()), 200 + g, 10, oid, true, 1, 900000.0, 0, 0, 0, 0
               FROM pg_database, generate_series(1, 20) g WHERE datname = current_database();",
        )
        .unwrap();
        // the first analysis sees only them, and records them as impossible to plan
        assert_eq!(
            Spi::get_one::<i64>("SELECT optischema.analyze_now()").unwrap(),
            Some(0)
        );
        let recorded = Spi::get_one::<Vec<i64>>(
            "SELECT array_agg(queryid ORDER BY queryid) FROM optischema.unexplainable",
        )
        .unwrap()
        .unwrap();
        assert_eq!(recorded, (201..=220).collect::<Vec<i64>>());
        // then the top holds the statements that can be planned, and the advisor finds what
        // 102 needs
        Spi::run("SELECT optischema.analyze_now()").unwrap();
        assert_eq!(
            Spi::get_one::<i64>(
                "SELECT count(*) FROM optischema.recommendations
                  WHERE queryid = 102 AND kind = 'index' AND status = 'open'
                    AND sql = 'CREATE INDEX CONCURRENTLY ON public.shop_customers ((lower(email)))'"
            )
            .unwrap(),
            Some(1)
        );
        // recommend_indexes() reads the same top
        let sets = Spi::get_one::<Vec<String>>(
            "SELECT array_agg(index_sql ORDER BY index_sql) FROM optischema.recommend_indexes(NULL)",
        )
        .unwrap()
        .unwrap();
        assert!(
            sets.contains(
                &"CREATE INDEX CONCURRENTLY ON public.shop_customers ((lower(email)))".to_string()
            ),
            "{sets:?}"
        );
    }

    #[pg_test]
    fn indexes_below_the_minimum_improvement_are_not_proposed() {
        plant_workload();
        // no index saves 100% of its statement's cost: only the unused-index finding is left
        Spi::run("SET optischema.min_improvement_pct = 100").unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT optischema.analyze_now()").unwrap(),
            Some(1)
        );
        assert_eq!(
            Spi::get_one::<i64>(
                "SELECT count(*) FROM optischema.recommendations WHERE kind = 'index'"
            )
            .unwrap(),
            Some(0)
        );
    }

    #[pg_test]
    fn a_fix_that_exists_makes_its_recommendation_stale() {
        plant_workload();
        Spi::run("SELECT optischema.analyze_now()").unwrap();
        Spi::run("CREATE INDEX ON shop_customers (lower(email))").unwrap();
        Spi::run("SELECT optischema.analyze_now()").unwrap();
        assert_eq!(
            Spi::get_one::<String>(
                "SELECT status FROM optischema.recommendations WHERE queryid = 102"
            )
            .unwrap()
            .as_deref(),
            Some("stale")
        );
    }
}
