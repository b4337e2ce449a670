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
