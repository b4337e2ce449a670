//! `hot_queries()`: ranking by time within the window, statement texts, blocks, the row
//! limit.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::seed_history;
    use pgrx::prelude::*;

    #[pg_test]
    fn hot_queries_ranks_by_total_time_within_the_window() {
        seed_history();
        let rows: Vec<(i64, i64, f64, f64, f64)> = Spi::connect(|c| {
            c.select(
                "SELECT queryid, calls, total_ms, mean_ms, pct_of_total_time FROM optischema.hot_queries()",
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get::<i64>(1).unwrap().unwrap(),
                    r.get::<i64>(2).unwrap().unwrap(),
                    r.get::<f64>(3).unwrap().unwrap(),
                    r.get::<f64>(4).unwrap().unwrap(),
                    r.get::<f64>(5).unwrap().unwrap(),
                )
            })
            .collect()
        });
        // 11 sums both users: 140 calls, 280 ms; total in window is 280 + 100 + 20 = 400 ms.
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].0, rows[0].1, rows[0].2), (11, 140, 280.0));
        assert!((rows[0].3 - 2.0).abs() < 1e-9);
        assert!((rows[0].4 - 70.0).abs() < 1e-9);
        assert_eq!((rows[1].0, rows[1].1), (22, 10));
        assert!((rows[1].4 - 25.0).abs() < 1e-9);
        // the 90-minute-old bucket of 33 is outside the default hour
        assert_eq!((rows[2].0, rows[2].1, rows[2].2), (33, 5, 20.0));
    }

    #[pg_test]
    fn hot_queries_shows_this_database_and_keeps_the_whole_server_for_the_home_database() {
        seed_history();
        // statement 11's 50 calls in template1 are not this database's
        let (calls, database) = Spi::get_two::<i64, String>(
            "SELECT calls, database FROM optischema.hot_queries() WHERE queryid = 11",
        )
        .unwrap();
        assert_eq!(calls, Some(140));
        assert_eq!(
            database,
            Spi::get_one::<String>("SELECT current_database()::text").unwrap()
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT sum(calls)::int8 FROM optischema.query_history(11)")
                .unwrap(),
            Some(140)
        );
        // the tests run outside the home database ("postgres"), which keeps the whole server's
        for sql in [
            "SELECT * FROM optischema.hot_queries(whole_server => true)",
            "SELECT * FROM optischema.query_history(11, whole_server => true)",
        ] {
            let (state, hint) = crate::test_support::outcome_of(sql);
            assert_eq!(state, "0A000", "{sql}");
            assert!(hint.unwrap().starts_with("Ask there"), "{sql}");
        }
    }

    #[pg_test]
    fn hot_queries_reports_text_blocks_and_limits_rows() {
        seed_history();
        let (query, read) = Spi::get_two::<String, i64>(
            "SELECT query, shared_blks_read FROM optischema.hot_queries('1 hour', 1)",
        )
        .unwrap();
        assert_eq!(
            query.unwrap(),
            "SELECT * FROM orders WHERE customer_id = $1"
        );
        assert_eq!(read.unwrap(), 20);
        let n = Spi::get_one::<i64>("SELECT count(*) FROM optischema.hot_queries('1 hour', 2)")
            .unwrap();
        assert_eq!(n, Some(2));
        // a wider window brings in the old bucket, and 33 becomes the hottest
        let top = Spi::get_two::<i64, i64>(
            "SELECT queryid, calls FROM optischema.hot_queries('3 hours', 1)",
        )
        .unwrap();
        assert_eq!(top, (Some(33), Some(1005)));
    }
}
