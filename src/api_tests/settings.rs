//! The settings: defaults, units and ranges, and which may not be set per session.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::outcome_of;
    use pgrx::prelude::*;

    #[pg_test]
    fn settings_are_registered_with_their_units() {
        let show = |name: &str| {
            Spi::get_one::<String>(&format!("SHOW {name}"))
                .unwrap()
                .unwrap()
        };
        assert_eq!(show("optischema.enabled"), "on");
        assert_eq!(show("optischema.database"), "postgres");
        assert_eq!(show("optischema.sample_interval"), "10s");
        assert_eq!(show("optischema.retention"), "7d");
        assert_eq!(show("optischema.hot_top_n"), "20");
        let range = Spi::get_three::<String, String, String>(
            "SELECT min_val, max_val, unit FROM pg_settings WHERE name = 'optischema.sample_interval'",
        )
        .unwrap();
        assert_eq!(
            range,
            (Some("1".into()), Some("3600".into()), Some("s".into()))
        );
        // reloadable, not settable per session
        assert_eq!(
            outcome_of("SET optischema.sample_interval = '5s'").0,
            "55P02"
        );
    }
}
