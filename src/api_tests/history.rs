//! The stored history: `query_history()`'s buckets, `reset()`, and the counts `status()` reports.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::seed_history;
    use pgrx::prelude::*;

    #[pg_test]
    fn query_history_buckets_and_omits_empty_ones() {
        Spi::run(
            "INSERT INTO optischema.history VALUES
                ('2000-01-01 00:00:00+00'::timestamptz + (floor(extract(epoch FROM now() - '2000-01-01 00:00:00+00'::timestamptz) / 600) * 600) * interval '1 second' - interval '30 minutes', 7, 10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 4, 8.0, 4, 0, 0, 0),
                ('2000-01-01 00:00:00+00'::timestamptz + (floor(extract(epoch FROM now() - '2000-01-01 00:00:00+00'::timestamptz) / 600) * 600) * interval '1 second' - interval '29 minutes', 7, 10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 6, 2.0, 6, 0, 0, 0),
                ('2000-01-01 00:00:00+00'::timestamptz + (floor(extract(epoch FROM now() - '2000-01-01 00:00:00+00'::timestamptz) / 600) * 600) * interval '1 second' - interval '5 minutes', 7, 10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 1, 1.0, 1, 0, 0, 0),
                ('2000-01-01 00:00:00+00'::timestamptz + (floor(extract(epoch FROM now() - '2000-01-01 00:00:00+00'::timestamptz) / 600) * 600) * interval '1 second' - interval '5 minutes', 8, 10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 50, 1.0, 1, 0, 0, 0),
                -- statement 7 also ran in another database: not this one's history
                (date_trunc('minute', now()) - interval '5 minutes', 7, 10, (SELECT oid FROM pg_database WHERE datname = 'template1'), true, 90, 90.0, 9, 0, 0, 0);",
        )
        .unwrap();
        let rows: Vec<(i64, f64, f64)> = Spi::connect(|c| {
            c.select(
                "SELECT calls, total_ms, mean_ms FROM optischema.query_history(7, '1 hour', '10 minutes')",
                None,
                &[],
            )
            .unwrap()
            .map(|r| (r.get(1).unwrap().unwrap(), r.get(2).unwrap().unwrap(), r.get(3).unwrap().unwrap()))
            .collect()
        });
        // the two rows 30 and 29 minutes back share a 10-minute bucket; nothing in between
        assert_eq!(rows, vec![(10, 10.0, 1.0), (1, 1.0, 1.0)]);
        let unknown =
            Spi::get_one::<i64>("SELECT count(*) FROM optischema.query_history(424242)").unwrap();
        assert_eq!(unknown, Some(0));
    }

    #[pg_test]
    fn reset_clears_everything_and_asks_for_a_new_baseline() {
        seed_history();
        Spi::run(
            "INSERT INTO optischema.snapshot VALUES (11, 10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 1, 1.0, 1, 0, 0, 0);
             UPDATE optischema.sampler_state SET baseline_taken = true, hot_top = '{11,22}'",
        )
        .unwrap();
        let generation =
            Spi::get_one::<i64>("SELECT generation FROM optischema.sampler_state").unwrap();
        // 6 history rows + 3 statements + 1 snapshot row
        assert_eq!(
            Spi::get_one::<i64>("SELECT optischema.reset()").unwrap(),
            Some(10)
        );
        assert_eq!(
            Spi::get_one::<i64>(
                "SELECT (SELECT count(*) FROM optischema.history) + (SELECT count(*) FROM optischema.statements)
                      + (SELECT count(*) FROM optischema.snapshot)"
            )
            .unwrap(),
            Some(0)
        );
        let (taken, next_generation) = Spi::get_two::<bool, i64>(
            "SELECT baseline_taken, generation FROM optischema.sampler_state",
        )
        .unwrap();
        assert_eq!(taken, Some(false));
        assert_eq!(next_generation, generation.map(|g| g + 1));
        assert_eq!(
            Spi::get_one::<i64>("SELECT optischema.reset()").unwrap(),
            Some(0)
        );
    }

    #[pg_test]
    fn status_reports_settings_and_stored_counts() {
        seed_history();
        let (enabled, database, interval, tracked, rows, samples) = Spi::connect(|c| {
            let r = c
                .select(
                    "SELECT enabled, database, sample_interval::text, statements_tracked, history_rows, samples_taken
                       FROM optischema.status()",
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (
                r.get::<bool>(1).unwrap().unwrap(),
                r.get::<String>(2).unwrap().unwrap(),
                r.get::<String>(3).unwrap().unwrap(),
                r.get::<i64>(4).unwrap().unwrap(),
                r.get::<i64>(5).unwrap().unwrap(),
                r.get::<i64>(6).unwrap().unwrap(),
            )
        });
        assert!(enabled);
        assert_eq!(database, "postgres");
        assert_eq!(interval, "00:00:10");
        // history_rows counts every database's
        assert_eq!((tracked, rows, samples), (3, 6, 0));
    }
}
