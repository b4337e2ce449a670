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
pub mod bgworker;
pub mod clock;
pub mod databases;
pub mod errors;
pub mod hot;
pub mod llm;
pub mod notify;
pub mod plans;
pub mod rules;
pub mod sampling;
pub mod secrets;
pub mod settings;
pub mod shmem;
pub mod statements;
pub mod store;
pub mod trial;
pub mod whatif;

pgrx::pg_module_magic!();

extension_sql_file!("../sql/schema/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../sql/schema/recommendations.sql",
    name = "recommendations",
    requires = ["bootstrap"]
);
extension_sql_file!(
    "../sql/schema/ai.sql",
    name = "ai",
    requires = ["recommendations"]
);
extension_sql_file!(
    "../sql/schema/apply.sql",
    name = "apply",
    requires = ["recommendations"]
);
extension_sql_file!("../sql/schema/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    // The worker can only be registered while the server starts (shared_preload_libraries).
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        sampling::worker::register();
        llm::worker::register();
        apply::worker::register();
        plans::capture::install();
        databases::registry::install();
        llm::budget::install();
        databases::hooks::install();
        whatif::hypo::install();
        secrets::install();
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod api_tests;
#[cfg(test)]
mod layout_tests;
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
