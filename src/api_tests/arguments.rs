//! Bad arguments of the read functions: SQLSTATE 22023 with a HINT; the limits themselves pass.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::{outcome_of, rejected};
    use pgrx::prelude::*;

    #[pg_test]
    fn bad_arguments_are_rejected_with_22023_and_a_hint() {
        rejected("SELECT * FROM optischema.hot_queries(NULL)");
        rejected("SELECT * FROM optischema.hot_queries('-1 hour')");
        rejected("SELECT * FROM optischema.hot_queries('0 seconds')");
        rejected("SELECT * FROM optischema.hot_queries('1 hour', 0)");
        rejected("SELECT * FROM optischema.hot_queries('1 hour', 10001)");
        rejected("SELECT * FROM optischema.hot_queries('1 hour', NULL)");
        rejected("SELECT * FROM optischema.hot_queries(whole_server => NULL)");
        rejected("SELECT * FROM optischema.query_history(1, whole_server => NULL)");
        rejected("SELECT * FROM optischema.query_history(NULL)");
        rejected("SELECT * FROM optischema.query_history(1, NULL)");
        rejected("SELECT * FROM optischema.query_history(1, '-5 minutes')");
        rejected("SELECT * FROM optischema.query_history(1, '1 hour', NULL)");
        rejected("SELECT * FROM optischema.query_history(1, '1 hour', '0 seconds')");
        // smaller than the 10 s sample interval, and than the 1-minute storage bucket
        rejected("SELECT * FROM optischema.query_history(1, '1 hour', '5 seconds')");
        rejected("SELECT * FROM optischema.query_history(1, '1 hour', '30 seconds')");
        rejected("SELECT * FROM optischema.query_history(1, '1 year', '1 minute')");
        rejected("SELECT * FROM optischema.query_history(1, '1 day', '1 month')");
        assert_eq!(
            outcome_of("SELECT * FROM optischema.query_history(1, '69 days', '1 minute')").0,
            "00000"
        );
        assert_eq!(
            outcome_of("SELECT * FROM optischema.hot_queries('1 hour', 10000)").0,
            "00000"
        );
    }
}
