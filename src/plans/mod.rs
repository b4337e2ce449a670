//! Query plans: the typed model of EXPLAIN's JSON output.

pub mod model;
