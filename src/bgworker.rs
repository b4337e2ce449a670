//! What every OptiSchema background worker uses: short transactions bounded by a statement
//! timeout (an ERROR or a panic inside becomes `Err`) and the time one has left, the session
//! they run in, sleeping on the latch, SIGHUP and SIGTERM, waking another worker when a
//! transaction commits, and logging a condition once.

use pgrx::bgworkers::BackgroundWorker;
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Upper bound on one transaction of any worker (a sample, an analysis, an action's
/// bookkeeping); statements that run longer on purpose (an index build, a trial) set their own.
const TRANSACTION_TIMEOUT_MS: i32 = 10_000;
/// `lock_timeout` of the workers' sessions: they never queue behind users for long.
const LOCK_TIMEOUT: &std::ffi::CStr = c"1s";

// utils/timeout.h is not in pgrx's bindings. Background workers do not go through the
// client command loop that arms statement_timeout, so each worker arms it itself.
const STATEMENT_TIMEOUT_ID: u32 = 3;
// not in pgrx's bindings: called through pg_guard_ffi_boundary, as pgrx's own are
unsafe extern "C-unwind" {
    fn enable_timeout_after(id: u32, delay_ms: i32);
    fn disable_timeout(id: u32, keep_indicator: bool);
}

const SIGTERM: std::ffi::c_int = 15;
// never called from Rust, only installed as the signal handler: no guard wanted
unsafe extern "C-unwind" {
    /// The server's own SIGTERM handler for backends (tcop/postgres.c).
    fn die(signal: std::ffi::c_int);
}

thread_local! {
    /// When the worker's current [`in_transaction`] began, while one runs.
    static TRANSACTION_STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Logs a condition once, and again only after it has changed; says once when it is over.
pub(crate) struct LogOnce {
    /// What is being done: "sampling", "analysis".
    activity: &'static str,
    last: Option<String>,
}

impl LogOnce {
    pub(crate) fn new(activity: &'static str) -> LogOnce {
        LogOnce {
            activity,
            last: None,
        }
    }

    pub(crate) fn report(
        &mut self,
        key: &str,
        level: PgLogLevel,
        message: &str,
        hint: Option<&str>,
    ) {
        if self.last.as_deref() == Some(key) {
            return;
        }
        self.last = Some(key.to_string());
        let code = if level >= PgLogLevel::WARNING {
            PgSqlErrorCode::ERRCODE_WARNING
        } else {
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION
        };
        let mut report = ErrorReport::new(code, message.to_string(), "optischema");
        if let Some(hint) = hint {
            report = report.set_hint(hint);
        }
        report.report(level);
    }

    /// `what` failed with `message`: a WARNING, once while the message stays the same.
    pub(crate) fn failed(&mut self, what: &str, message: &str) {
        self.report(
            &format!("error:{message}"),
            PgLogLevel::WARNING,
            &format!("optischema: {what} failed: {message}"),
            None,
        );
    }

    /// The condition is over: says so once if something had been reported.
    pub(crate) fn clear(&mut self) {
        match self.last.take() {
            Some(key) if key.starts_with("error:") => {
                log!("optischema: {} works again", self.activity)
            }
            Some(_) => log!("optischema: {} started", self.activity),
            None => {}
        }
    }
}

/// What [`in_transaction`] gives for a body that returns a `Result` of its own, made one
/// `Result`: the value, or the message of the SPI error or of the ERROR raised.
pub(crate) fn flattened<T, E: std::fmt::Display>(
    result: Result<Result<T, E>, String>,
) -> Result<T, String> {
    result.and_then(|inner| inner.map_err(|e| e.to_string()))
}

/// Reads the configuration file again when the postmaster asked (SIGHUP).
pub(crate) fn reload_when_asked() {
    unsafe {
        if pg_sys::ConfigReloadPending != 0 {
            pg_sys::ConfigReloadPending = 0;
            pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
        }
    }
}

/// Session settings for all the worker's statements, set directly rather than with SQL
/// statements that pg_stat_statements would record before `track = none` took effect.
pub(crate) fn prepare_session() {
    for (name, value) in [
        (c"pg_stat_statements.track", c"none"),
        (c"lock_timeout", LOCK_TIMEOUT),
        (c"search_path", c"pg_catalog, pg_temp"),
    ] {
        unsafe {
            pg_sys::SetConfigOption(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SUSET,
                pg_sys::GucSource::PGC_S_SESSION,
            );
        }
    }
}

/// Runs `body` in its own transaction, bounded by [`TRANSACTION_TIMEOUT_MS`]. A PostgreSQL ERROR or
/// a panic inside rolls the transaction back and comes back as `Err(message)`.
pub(crate) fn in_transaction<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    TRANSACTION_STARTED.set(Some(Instant::now()));
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        pg_sys::ffi::pg_guard_ffi_boundary(|| {
            enable_timeout_after(STATEMENT_TIMEOUT_ID, TRANSACTION_TIMEOUT_MS)
        });
    }
    let result = PgTryBuilder::new(AssertUnwindSafe(|| {
        let value = body();
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        Ok(value)
    }))
    .catch_others(|caught| Err(describe(&caught)))
    .execute();
    TRANSACTION_STARTED.set(None);
    unsafe {
        pg_sys::ffi::pg_guard_ffi_boundary(|| disable_timeout(STATEMENT_TIMEOUT_ID, false));
        // a timeout that fired just as the sample ended must not cancel the next one
        pg_sys::QueryCancelPending = 0;
        if result.is_err() {
            pg_sys::AbortCurrentTransaction();
        }
    }
    result
}

/// Inside a worker's [`in_transaction`], the share of its bound already spent (0 at its start,
/// 1 when the statement timeout fires); None elsewhere (a user's session has its own
/// `statement_timeout`, and no share of it is known). Work that can stop early with a useful
/// answer, as the index search can, watches it.
pub fn transaction_time_spent() -> Option<f64> {
    TRANSACTION_STARTED
        .get()
        .map(|started| started.elapsed().as_secs_f64() * 1000.0 / TRANSACTION_TIMEOUT_MS as f64)
}

/// Whether a transaction that took `took` ran into the bound of [`in_transaction`] (its statement
/// timeout fires once the bound has passed, and not before).
pub fn reached_bound(took: Duration) -> bool {
    took.as_millis() >= TRANSACTION_TIMEOUT_MS as u128
}

fn describe(caught: &CaughtError) -> String {
    match caught {
        CaughtError::PostgresError(report)
        | CaughtError::ErrorReport(report)
        | CaughtError::RustPanic {
            ereport: report, ..
        } => report.message().to_string(),
    }
}

/// Whether OptiSchema's table `table` (schema-qualified) exists in this database: a worker may
/// run before `CREATE EXTENSION` or after `DROP EXTENSION`, and then has nothing to read.
pub fn installed(table: &str) -> pgrx::spi::Result<bool> {
    Ok(
        Spi::get_one_with_args::<bool>("SELECT to_regclass($1) IS NOT NULL", &[table.into()])?
            == Some(true),
    )
}

/// Wakes the background worker of type `backend_type`, if it runs, when the current
/// transaction commits: what the caller queued is visible then, and need not wait for the
/// worker's next poll.
pub fn wake_at_commit(backend_type: &str) {
    let pid = Spi::get_one_with_args::<i32>(
        "SELECT (SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = $1 LIMIT 1)",
        &[backend_type.into()],
    )
    .ok()
    .flatten();
    if let Some(pid) = pid {
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || unsafe {
            let proc_ = pg_sys::BackendPidGetProc(pid);
            if !proc_.is_null() {
                pg_sys::SetLatch(&mut (*proc_).procLatch);
            }
        });
    }
}

/// SIGTERM ends the worker at the next interrupt check, as it ends any backend: a planning, an
/// index search or a build in progress is cut short instead of holding up a shutdown, and what
/// it had not committed is rolled back. pgrx's handler only sets a flag, which nothing inside a
/// statement looks at. Call after `attach_signal_handlers` (SIGHUP stays with pgrx's).
pub fn die_on_sigterm() {
    unsafe { pg_sys::pqsignal(SIGTERM, Some(die)) };
}

/// SIGTERM seen. pgrx clears its own flag each time it is read (and its `wait_latch` reads it):
/// remembered here, a request to stop is never lost between two reads.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether this worker was asked to stop.
pub fn stop_requested() -> bool {
    if BackgroundWorker::sigterm_received() {
        STOP_REQUESTED.store(true, Ordering::Relaxed);
    }
    STOP_REQUESTED.load(Ordering::Relaxed)
}

/// Whether this worker was asked to stop, through pgrx's flag or through the server's `die`
/// (see [`die_on_sigterm`]: it ends the worker at its next interrupt check). For waits outside
/// the server, which no interrupt check cuts short.
pub fn must_stop() -> bool {
    // SAFETY: a sig_atomic_t the signal handler sets, read as it is written: volatile
    stop_requested() || unsafe { std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) } != 0
}

/// Sleeps until the latch is set or `timeout` passes; false once the worker must stop. A
/// worker that dies on SIGTERM (see [`die_on_sigterm`]) ends here when it was asked to.
pub fn sleep(timeout: Duration) -> bool {
    if stop_requested() {
        return false;
    }
    if !BackgroundWorker::wait_latch(Some(timeout)) {
        STOP_REQUESTED.store(true, Ordering::Relaxed);
    }
    pg_sys::check_for_interrupts!();
    !stop_requested()
}
