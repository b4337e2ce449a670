//! `dismiss()`: a dismissed recommendation stays dismissed across analyses; NULL and unknown ids.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::plant_workload;
    use crate::test_support::rejected;
    use pgrx::prelude::*;

    #[pg_test]
    fn dismissed_stays_dismissed_and_reanalysis_updates_in_place() {
        plant_workload();
        Spi::run("SELECT optischema.analyze_now()").unwrap();
        let id =
            Spi::get_one::<i64>("SELECT id FROM optischema.recommendations WHERE queryid = 102")
                .unwrap()
                .unwrap();
        let (status, reason) = Spi::get_two_with_args::<String, String>(
            "SELECT status, dismissed_reason FROM optischema.dismiss($1, 'we never log in by email')",
            &[id.into()],
        )
        .unwrap();
        assert_eq!(status.as_deref(), Some("dismissed"));
        assert_eq!(reason.as_deref(), Some("we never log in by email"));
        let first_seen =
            Spi::get_one::<String>("SELECT first_seen::text FROM optischema.unexplainable")
                .unwrap();
        let open = Spi::get_one::<i64>("SELECT optischema.analyze_now()")
            .unwrap()
            .unwrap();
        assert_eq!(open, 2);
        assert_eq!(
            Spi::get_one_with_args::<String>(
                "SELECT status FROM optischema.recommendations WHERE id = $1",
                &[id.into()]
            )
            .unwrap()
            .as_deref(),
            Some("dismissed")
        );
        // one row per fingerprint, however often it is found
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM optischema.recommendation_store").unwrap(),
            Some(3)
        );
        // recorded once, not again
        assert_eq!(
            Spi::get_one::<String>("SELECT first_seen::text FROM optischema.unexplainable")
                .unwrap(),
            first_seen
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM optischema.unexplainable").unwrap(),
            Some(1)
        );
    }

    #[pg_test]
    fn dismiss_rejects_null_and_unknown_ids() {
        rejected("SELECT * FROM optischema.dismiss(NULL)");
        rejected("SELECT * FROM optischema.dismiss(424242, 'no such thing')");
    }
}
