//! Query plans: the typed model of EXPLAIN's JSON output, and planning normalized statements
//! through SPI without running them.

pub mod capture;
pub mod capture_gate;
pub mod explain;
pub mod ident;
pub mod lexer;
pub mod model;
pub mod predicate;
pub mod repair;

/// A statement planned with one captured value set (a custom plan): the values, how often they
/// were seen, and EXPLAIN's JSON.
#[derive(Clone)]
pub struct CustomPlan {
    pub values: Vec<Option<String>>,
    pub times_seen: i64,
    pub raw: serde_json::Value,
}
