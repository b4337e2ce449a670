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

use pgrx::prelude::*;

/// Whether this is the database the sampler, the AI and the apply workers run in
/// (`optischema.database`); the others are served by database workers.
pub fn is_home() -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT current_database() = $1",
        &[crate::settings::database().into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Has what the caller queued run soon after its transaction commits: the apply worker here
/// wakes up; in another database, the launcher starts that database's worker.
pub fn wake_apply_at_commit() {
    if is_home() {
        crate::bgworker::wake_at_commit(crate::apply::worker::WORKER_TYPE);
    } else {
        let dbid = unsafe { pgrx::pg_sys::MyDatabaseId }.to_u32();
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
            registry::request(dbid)
        });
    }
}
