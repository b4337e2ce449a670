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
    wake_at_commit(crate::apply::worker::WORKER_TYPE)
}

/// The same for a question to the model: the AI worker here, this database's worker elsewhere.
pub fn wake_ai_at_commit() {
    wake_at_commit(crate::llm::worker::WORKER_TYPE)
}

/// Wakes the home database's worker of type `home_worker`, or asks for this database's turn.
fn wake_at_commit(home_worker: &str) {
    if is_home() {
        crate::bgworker::wake_at_commit(home_worker);
    } else {
        let dbid = unsafe { pgrx::pg_sys::MyDatabaseId }.to_u32();
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
            registry::request(dbid)
        });
    }
}

/// How this database is served: "home", or its state in the registry, the pid of its worker
/// when one runs, and the batches waiting for it. For `status()`.
pub fn this_database() -> (String, Option<i32>, i64) {
    if is_home() {
        return ("home".into(), None, 0);
    }
    let dbid = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let waiting = handover::Spool::new(worker::SPOOL_DIR)
        .pending(dbid)
        .map_or(0, |p| p.len() as i64);
    match registry::entries().into_iter().find(|e| e.dbid == dbid) {
        Some(e) => (
            e.state.name().into(),
            (e.pid != 0).then_some(e.pid),
            waiting,
        ),
        // created after the extension was, before any statement ran here
        None => (registry::State::Unknown.name().into(), None, waiting),
    }
}

/// The databases OptiSchema knows of, and whether each is served: the sampler's own
/// ("home"), "served" (the extension is there), "no extension", "not visited yet" (its
/// statements ran; its first turn finds out), "dropping".
#[pg_extern(stable)]
#[search_path(pg_catalog)]
fn databases() -> TableIterator<
    'static,
    (
        name!(database, Option<String>),
        name!(state, String),
        name!(worker_pid, Option<i32>),
        name!(batches_waiting, i64),
    ),
> {
    let spool = handover::Spool::new(worker::SPOOL_DIR);
    let mut rows = Vec::new();
    let name_of = |dbid: u32| {
        Spi::get_one_with_args::<String>(
            "SELECT datname::text FROM pg_catalog.pg_database WHERE oid = $1::oid",
            &[(dbid as i64).into()],
        )
        .ok()
        .flatten()
    };
    let home = crate::settings::database();
    rows.push((Some(home.clone()), "home".to_string(), None, 0));
    let mut entries = registry::entries();
    entries.sort_by_key(|e| e.dbid);
    for e in entries {
        let name = name_of(e.dbid);
        if name.as_deref() == Some(home.as_str()) {
            continue;
        }
        let state = e.state.name();
        let waiting = spool.pending(e.dbid).map_or(0, |p| p.len() as i64);
        rows.push((
            name,
            state.to_string(),
            (e.pid != 0).then_some(e.pid),
            waiting,
        ));
    }
    TableIterator::new(rows)
}
