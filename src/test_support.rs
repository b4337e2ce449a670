//! Helpers shared by the tests that need a backend.

use pgrx::prelude::*;

/// Runs `sql` in a subtransaction and returns its SQLSTATE and HINT ("00000" when it succeeds).
pub fn outcome_of(sql: &str) -> (String, Option<String>) {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.outcome_of(q text, OUT state text, OUT hint text)
         LANGUAGE plpgsql AS $$
         BEGIN
             EXECUTE q;
             state := '00000';
         -- OTHERS leaves out a cancel, which some tests expect
         EXCEPTION WHEN OTHERS OR query_canceled THEN
             GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
         END $$",
    )
    .unwrap();
    let (state, hint) = Spi::get_two_with_args::<String, String>(
        "SELECT state, nullif(hint, '') FROM pg_temp.outcome_of($1)",
        &[sql.into()],
    )
    .unwrap();
    (state.unwrap(), hint)
}

pub fn rejected(sql: &str) {
    let (state, hint) = outcome_of(sql);
    assert_eq!(state, "22023", "{sql} should be rejected with 22023");
    assert!(
        hint.is_some_and(|h| !h.is_empty()),
        "{sql} should come with a HINT"
    );
}
