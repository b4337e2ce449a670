//! The sampling worker: samples pg_stat_statements every `optischema.sample_interval`, then
//! analyses the hot statements when due.
//!
//! Each sample runs in one short transaction bounded by a statement timeout. A failed sample is
//! rolled back, recorded in `sampler_state` for `status()`, logged once, and the next one runs on
//! schedule. SIGHUP reloads the settings at once; SIGTERM ends the worker at once, in the
//! middle of a sample or an analysis too (rolled back).

use crate::bgworker::{
    flattened, in_transaction, prepare_session, reload_when_asked, sleep, LogOnce,
};
use crate::sampling::{SampleSettings, SampleSkip, Sampler};
use crate::settings;
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use std::collections::hash_map::{Entry, HashMap};
use std::time::{Duration, Instant};

pub const WORKER_TYPE: &str = "optischema sampler";
/// The AI worker is asked about this many of the hottest statements with open recommendations.
const ASK_ABOUT_TOP: i64 = 3;
/// A hot statement's analysis is repeated this often (plans change with data and indexes).
const REANALYZE_AFTER: Duration = Duration::from_secs(300);

pub fn register() {
    BackgroundWorkerBuilder::new(WORKER_TYPE)
        .set_type(WORKER_TYPE)
        .set_library("optischema")
        .set_function("optischema_worker_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn optischema_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    crate::bgworker::die_on_sigterm();
    crate::plans::capture::mark_worker();
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{WORKER_TYPE} started in database \"{database}\"");

    let mut sampler = Sampler::default();
    let mut log_once = LogOnce::new("sampling");
    let mut session_ready = false;
    let mut last_start: Option<Instant> = None;
    let mut last_analyzed: HashMap<i64, Instant> = HashMap::new();
    // after an analysis that ran into its bound: it would spend it again at every sample
    let mut analysis_waits_until: Option<Instant> = None;
    let mut analysis_log = LogOnce::new("analysis");
    let mut unrecorded: Unrecorded = None;
    // the sampler also starts the workers of the other databases
    let mut launcher = crate::databases::launcher::Launcher::default();
    let home = unsafe { pg_sys::MyDatabaseId }.to_u32();

    loop {
        reload_when_asked();
        let _ = BackgroundWorker::sighup_received();
        // Recomputed on every wake-up, so a reloaded interval applies to the sample already due.
        let interval = Duration::from_secs(settings::sample_interval_s() as u64);
        let now = Instant::now();
        if let Some(due) = last_start.map(|s| s + interval) {
            if now < due {
                if !sleep(due - now) {
                    break;
                }
                continue;
            }
        }
        last_start = Some(now);

        if !settings::ENABLED.get() {
            continue;
        }
        if !pg_stat_statements_loaded() {
            log_once.report(
                "pgss-missing",
                PgLogLevel::WARNING,
                "optischema: pg_stat_statements is not loaded, so there is nothing to sample",
                Some("Add pg_stat_statements to shared_preload_libraries and restart the server."),
            );
            continue;
        }
        if !session_ready {
            session_ready = in_transaction(prepare_session).is_ok();
        }
        let sample_settings = SampleSettings {
            hot_top_n: settings::HOT_TOP_N.get(),
            retention_min: settings::RETENTION_MIN.get(),
        };
        match in_transaction(|| sampler.sample(&sample_settings)) {
            Ok(Ok(pending)) => {
                sampler.committed(pending);
                log_once.clear();
                record(&mut unrecorded);
                // in a transaction of its own: a failed analysis never costs a sample
                let started = Instant::now();
                let analyzed = if analysis_waits_until.is_some_and(|until| started < until) {
                    None
                } else {
                    Some(flattened(in_transaction(|| {
                        analyze_due(&mut last_analyzed)
                    })))
                };
                if let Some(Err(_)) = analyzed {
                    if crate::bgworker::reached_bound(started.elapsed()) {
                        analysis_waits_until = Some(started + REANALYZE_AFTER);
                    } else {
                        // its statements are due again after the next sample
                        last_analyzed.retain(|_, at| *at < started);
                    }
                }
                // the apply worker is busy building: its progress is told from here; and what
                // applied fixes really saved is measured once their window is over
                let tasks: [fn() -> Result<(), pgrx::spi::SpiError>; 2] = [
                    crate::apply::progress::announce,
                    crate::apply::realized::measure,
                ];
                for task in tasks {
                    if let Err(message) = flattened(in_transaction(task)) {
                        analysis_failed(&mut analysis_log, &message);
                    }
                }
                match analyzed {
                    Some(Ok(_)) => analysis_log.clear(),
                    Some(Err(message)) => analysis_failed(&mut analysis_log, &message),
                    None => {}
                }
                launcher.round(home);
            }
            Ok(Err(SampleSkip::ExtensionMissing)) => {
                // a dropped extension takes the stored snapshot with it
                sampler.forget();
                log_once.report(
                "extension-missing",
                PgLogLevel::LOG,
                &format!("optischema: the extension is not created in database \"{database}\", waiting"),
                Some(&format!(
                    "Run CREATE EXTENSION optischema CASCADE in database \"{database}\", or set optischema.database."
                )),
                )
            }
            Ok(Err(SampleSkip::PgssExtensionMissing)) => log_once.report(
                "pgss-extension-missing",
                PgLogLevel::LOG,
                &format!("optischema: pg_stat_statements is not created in database \"{database}\", waiting"),
                Some("Run CREATE EXTENSION pg_stat_statements in that database."),
            ),
            Ok(Err(SampleSkip::Spi(e))) => {
                failed(&mut sampler, &mut log_once, &e.to_string(), &mut unrecorded)
            }
            Err(message) => failed(&mut sampler, &mut log_once, &message, &mut unrecorded),
        }
    }
    log!("{WORKER_TYPE} stopping");
}

/// Analyses the hot statements, all together, when one of them was not analysed within
/// [`REANALYZE_AFTER`]: a statement that just became hot is analysed right after the sample
/// that saw it, with the rest of the workload its indexes are chosen for. The statements due
/// are recorded in `last_analyzed` as they are found, before the analysis runs (it may fail).
pub(crate) fn analyze_due(
    last_analyzed: &mut HashMap<i64, Instant>,
) -> Result<i64, pgrx::spi::SpiError> {
    // statements are planned as their users run them, not with the worker's own search_path
    crate::acting::use_planning_path();
    let now = Instant::now();
    last_analyzed.retain(|_, at| now.duration_since(*at) < REANALYZE_AFTER);
    let open =
        crate::analysis::analyze_hot(settings::HOT_TOP_N.get(), &mut |q| match last_analyzed
            .entry(q)
        {
            Entry::Vacant(due) => {
                due.insert(now);
                true
            }
            Entry::Occupied(_) => false,
        })?;
    // the hottest statements with something to fix get an explanation, while the budget lasts
    if crate::llm::worker::unavailable()?.is_none() {
        Spi::run_with_args(
            include_str!("../../sql/sampling/enqueue_hot.sql"),
            &[
                ASK_ABOUT_TOP.into(),
                crate::statements::WINDOW_MINUTES.into(),
            ],
        )?;
    }
    Ok(open)
}

fn analysis_failed(log_once: &mut LogOnce, message: &str) {
    log_once.report(
        &format!("error:{message}"),
        PgLogLevel::WARNING,
        &format!("optischema: analysis failed: {message}"),
        Some("Sampling goes on; the analysis is tried again after the next sample, or after 5 minutes when it ran into its 10 s bound."),
    );
}

/// A failure `status()` has not shown yet, with when it happened: recording it may fail for the
/// same reason the sample did (a lock on the state row), so it is tried again after each sample.
type Unrecorded = Option<(String, f64)>;

fn record(unrecorded: &mut Unrecorded) {
    if let Some((message, at)) = unrecorded.take() {
        if !matches!(
            in_transaction(|| crate::sampling::record_error(&message, at)),
            Ok(Ok(()))
        ) {
            *unrecorded = Some((message, at));
        }
    }
}

fn failed(
    sampler: &mut Sampler,
    log_once: &mut LogOnce,
    message: &str,
    unrecorded: &mut Unrecorded,
) {
    // What the sample did is rolled back: reload the snapshot from the tables next time.
    sampler.forget();
    log_once.report(
        &format!("error:{message}"),
        PgLogLevel::WARNING,
        &format!("optischema: sample failed: {message}"),
        Some("The next sample runs on schedule; optischema.status() shows the last error."),
    );
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    *unrecorded = Some((message.to_string(), at));
    record(unrecorded);
}

fn pg_stat_statements_loaded() -> bool {
    unsafe { !pg_sys::GetConfigOption(c"pg_stat_statements.max".as_ptr(), true, false).is_null() }
}
