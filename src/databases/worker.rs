//! The worker of one database: started by the launcher for a turn, it runs what users queued
//! there, takes in what the sampler handed over, analyses the database's hot statements, asks
//! the model the questions waiting, and leaves. It is never restarted by
//! the postmaster (a database may be gone): the launcher starts it again for its next turn.
//!
//! It leaves between two transactions when asked (`DROP DATABASE`, `DROP EXTENSION`); a
//! statement it runs then is cancelled by the asker, so it leaves within moments. SIGTERM ends
//! it at once, as it ends any backend.

use super::handover::Spool;
use super::registry::{self, State};
use crate::bgworker::{flattened, in_transaction, prepare_session, reload_when_asked, LogOnce};
use crate::settings;
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use std::collections::HashMap;

pub const WORKER_TYPE: &str = "optischema database worker";
/// Where the sampler hands batches over, relative to the data directory (the workers' cwd).
pub const SPOOL_DIR: &str = "optischema_spool";

/// Starts a worker for `dbid`; Err when the server has no background worker slot free.
pub fn start(dbid: u32) -> Result<(), String> {
    BackgroundWorkerBuilder::new(&format!("optischema worker for database {dbid}"))
        .set_type(WORKER_TYPE)
        .set_library("optischema")
        .set_function("optischema_database_worker_main")
        .set_argument(Some(pg_sys::Datum::from(dbid)))
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .load_dynamic()
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[pg_guard]
unsafe extern "C-unwind" fn detach_at_exit(_code: i32, arg: pg_sys::Datum) {
    registry::detach(arg.value() as u32);
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn optischema_database_worker_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    crate::bgworker::die_on_sigterm();
    crate::plans::capture::mark_worker();
    let dbid = arg.value() as u32;
    // another worker serves it, or it is being dropped: nothing to do, quietly
    if !registry::attach(dbid) {
        return;
    }
    unsafe { pg_sys::before_shmem_exit(Some(detach_at_exit), arg) };
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(dbid)), None);

    let created = in_transaction(|| {
        Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'optischema')",
        )
    });
    if !matches!(created, Ok(Ok(Some(true)))) {
        registry::set_state(dbid, State::NoExtension);
        return;
    }
    registry::set_state(dbid, State::Served);
    if in_transaction(prepare_session).is_err() {
        return;
    }
    let spool = Spool::new(SPOOL_DIR);
    let mut log_once = LogOnce::new("database worker");
    reload_when_asked();
    if leaving(dbid) {
        return;
    }
    // what users asked for here first: announcements, trials, fixes to apply or revert
    crate::apply::worker::clean_up_interrupted();
    crate::apply::worker::run_queue(&mut LogOnce::new("applying fixes"));
    // a question to the model left running was cut short with the worker that asked it
    if let Err(message) = flattened(in_transaction(crate::llm::worker::fail_interrupted)) {
        log_once.failed("failing interrupted AI requests", &message);
    }
    if leaving(dbid) {
        return;
    }
    match flattened(in_transaction(|| super::ingest::take_waiting(&spool, dbid))) {
        Ok(Some(seq)) => {
            if let Err(e) = spool.remove_through(dbid, seq) {
                log_once.failed("removing handed-over batches", &e.to_string());
            }
        }
        Ok(None) => {}
        Err(message) => log_once.failed("taking in the sampler's batches", &message),
    }
    // what applied fixes really saved, once their window is over (this database's history)
    if let Err(message) = flattened(in_transaction(crate::apply::realized::measure)) {
        log_once.failed("measuring realized savings", &message);
    }
    if leaving(dbid) {
        return;
    }
    // a turn analyses every hot statement: the last analysis times live with the process
    let mut analyzed = HashMap::new();
    if let Err(message) = flattened(in_transaction(|| {
        crate::sampling::worker::analyze_due(&mut analyzed)
    })) {
        log_once.failed("analysis", &message);
    }
    if leaving(dbid) {
        return;
    }
    // questions to the model, asked by users here or queued by the analysis: last, since a
    // call may take up to optischema.llm_timeout
    if settings::ENABLED.get() {
        crate::llm::worker::run_queue(&mut LogOnce::new("AI requests"));
    }
    // one asked again later (rate limited, failed) brings this database's turn back then
    match flattened(in_transaction(crate::llm::worker::next_due)) {
        Ok(Some(due)) => registry::request_at(dbid, due.max(0) as u64),
        Ok(None) => {}
        Err(message) => log_once.failed("reading AI requests", &message),
    }
}

/// Asked to leave by a drop (through the registry). SIGTERM ends the worker wherever it is.
fn leaving(dbid: u32) -> bool {
    pg_sys::check_for_interrupts!();
    registry::stop_requested(dbid)
}
