//! OptiSchema: a tuning service that lives inside PostgreSQL.
//!
//! `_PG_init` registers the settings, the sampling worker and the parameter capture hooks,
//! and nothing else.

use pgrx::prelude::*;

pub mod acting;
pub mod advisor;
pub mod analysis;
pub mod api;
pub mod apply;
pub mod hot;
pub mod llm;
pub mod notify;
pub mod plans;
pub mod rules;
pub mod sampling;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod trial;
pub mod whatif;
pub mod worker;

pgrx::pg_module_magic!();

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../sql/recommendations.sql",
    name = "recommendations",
    requires = ["bootstrap"]
);
extension_sql_file!("../sql/ai.sql", name = "ai", requires = ["recommendations"]);
extension_sql_file!(
    "../sql/apply.sql",
    name = "apply",
    requires = ["recommendations"]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    // The worker can only be registered while the server starts (shared_preload_libraries).
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        worker::register();
        llm::worker::register();
        apply::worker::register();
        plans::capture::install();
        whatif::hypo::install();
        secrets::install();
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod api_tests;
#[cfg(any(test, feature = "pg_test"))]
mod test_support;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // The worker samples the default database, "postgres", where the extension is not
        // created during these tests: it waits there and leaves the test database alone.
        vec!["shared_preload_libraries = 'pg_stat_statements,optischema'"]
    }
}
