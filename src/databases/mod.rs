//! Serving every database of the server: the sampler reads pg_stat_statements once for all of
//! them and hands each database its share ([`handover`]); a worker per database where the
//! extension is created takes it in and does that database's analysis and actions, with worker
//! slots shared by the databases in turns ([`turns`]).

pub mod handover;
pub mod hooks;
pub mod ingest;
pub mod launcher;
pub mod registry;
pub mod turns;
pub mod worker;
