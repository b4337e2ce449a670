//! Tests that need a backend: the SQL API against rows placed in OptiSchema's tables, one
//! module per topic. Each wraps its `#[pg_test]`s in `mod tests` (pgrx creates them in the
//! schema `tests`); what they plant is in `fixtures`. The deterministic part of the same
//! behaviour is also written as pg_regress files in `tests/regress/`.

pub(crate) mod fixtures;

mod advisor;
mod analysis;
mod arguments;
mod capture;
mod dismiss;
mod explain;
mod history;
mod hot_queries;
mod roles;
mod settings;
mod whatif;
