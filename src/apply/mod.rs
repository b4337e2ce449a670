//! Applying a recommendation, and reverting it: what is run, and what undoes it. Index
//! changes run `CONCURRENTLY`, so writes go on meanwhile; they cannot run in the caller's
//! transaction, so `apply()` queues them and the apply worker runs them at top level. What is
//! queued is typed ([`action::Step`]); the worker rebuilds each statement from it when it runs.

pub mod action;
pub mod exec;
pub mod progress;
pub mod realized;
pub mod validate;
pub mod worker;

/// What makes a server-wide setting (ALTER SYSTEM) take effect.
pub const RELOAD: &str = "SELECT pg_catalog.pg_reload_conf()";

/// The name OptiSchema gives the index it builds for recommendation `id`: known in advance, so
/// an index left invalid by a failed build can be found and dropped.
pub fn index_name(recommendation_id: i64) -> String {
    format!("optischema_rec_{recommendation_id}")
}
