//! The apply worker: runs queued actions one at a time, each statement at top level with no
//! transaction of its own around it (what `CONCURRENTLY` needs), bounded by the session's
//! `lock_timeout`. Before: the action is marked running and, for a drop, the index's definition
//! is kept for revert. After: the outcome is recorded, the recommendation's status follows, and
//! NOTIFY `apply` says so. A failed build leaves no invalid index behind.

use super::{concurrently, config_target, exec, index_name, undo_config};
use crate::notify;
use crate::settings;
use crate::worker::{in_transaction, prepare_session, LogOnce};
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::spi;
use std::time::{Duration, Instant};

pub const WORKER_TYPE: &str = "optischema apply";
const POLL: Duration = Duration::from_secs(1);

pub fn register() {
    BackgroundWorkerBuilder::new(WORKER_TYPE)
        .set_type(WORKER_TYPE)
        .set_library("optischema")
        .set_function("optischema_apply_worker_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

struct Action {
    id: i64,
    recommendation_id: i64,
    mode: String,
    kind: String,
    steps: Vec<String>,
}

/// Takes the next queued action and prepares it; None when there is none.
fn next_action() -> spi::Result<Option<Action>> {
    if Spi::get_one::<bool>("SELECT to_regclass('optischema.action_log') IS NOT NULL")?
        != Some(true)
    {
        return Ok(None);
    }
    let taken = Spi::connect_mut(|client| {
        let table = client.update(
            "UPDATE optischema.action_log a SET status = 'running', started_at = clock_timestamp()
               FROM optischema.recommendation_store r
              WHERE r.id = a.recommendation_id
                AND a.id = (SELECT id FROM optischema.action_log WHERE status = 'queued'
                             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING a.id, a.recommendation_id, a.mode, r.kind, a.steps",
            Some(1),
            &[],
        )?;
        if table.is_empty() {
            return Ok::<_, spi::Error>(None);
        }
        let row = table.first();
        Ok(Some(Action {
            id: row.get::<i64>(1)?.unwrap_or_default(),
            recommendation_id: row.get::<i64>(2)?.unwrap_or_default(),
            mode: row.get::<String>(3)?.unwrap_or_default(),
            kind: row.get::<String>(4)?.unwrap_or_default(),
            steps: row.get::<Vec<String>>(5)?.unwrap_or_default(),
        }))
    })?;
    let Some(action) = taken else { return Ok(None) };
    // what undoes a drop or a setting is what exists now
    let first = action.steps.first().cloned().unwrap_or_default();
    let undo = match (action.kind.as_str(), action.mode.as_str()) {
        ("drop_index", "apply") => {
            let name = first.trim_start_matches("DROP INDEX CONCURRENTLY ").trim();
            Spi::get_one_with_args::<String>(
                "SELECT (SELECT pg_get_indexdef(to_regclass($1)))",
                &[name.into()],
            )?
            .as_deref()
            .and_then(concurrently)
        }
        ("config", "apply") => match config_target(&first) {
            Some((target, name)) => {
                let previous = Spi::get_one_with_args::<String>(
                    include_str!("../../sql/apply/setting_now.sql"),
                    &[target.clone().into(), name.clone().into()],
                )?;
                Some(undo_config(&target, &name, previous.as_deref()))
            }
            None => None,
        },
        _ => None,
    };
    if undo.is_some() {
        Spi::run_with_args(
            "UPDATE optischema.action_log SET undo_sql = $2 WHERE id = $1",
            &[action.id.into(), undo.into()],
        )?;
    }
    announce(&action, "started", None)?;
    Ok(Some(action))
}

fn announce(action: &Action, phase: &str, error: Option<&str>) -> spi::Result<()> {
    let payload = notify::apply_payload(
        action.id,
        action.recommendation_id,
        &action.mode,
        phase,
        error,
    );
    Spi::connect_mut(|client| notify::send(client, &[payload]))
}

/// Records how the action ended and moves the recommendation's status.
fn finish(action: &Action, outcome: &Result<(), String>, took: Duration) -> spi::Result<()> {
    let ms = took.as_secs_f64() * 1000.0;
    match outcome {
        Ok(()) => {
            if action.kind == "index" && action.mode == "apply" {
                // the index lives in its table's schema
                Spi::run_with_args(
                    "UPDATE optischema.action_log SET undo_sql = (
                         SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', n.nspname, c.relname)
                           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relname = $2 AND c.relkind = 'i' LIMIT 1)
                      WHERE id = $1",
                    &[action.id.into(), index_name(action.recommendation_id).into()],
                )?;
            }
            Spi::run_with_args(
                "UPDATE optischema.action_log SET status = 'done', finished_at = clock_timestamp(), duration_ms = $2
                  WHERE id = $1",
                &[action.id.into(), ms.into()],
            )?;
            let status = if action.mode == "revert" {
                "reverted"
            } else {
                "applied"
            };
            Spi::run_with_args(
                "UPDATE optischema.recommendation_store SET status = $2, updated_at = now() WHERE id = $1",
                &[action.recommendation_id.into(), status.into()],
            )?;
            announce(action, "done", None)
        }
        Err(message) => {
            Spi::run_with_args(
                "UPDATE optischema.action_log SET status = 'failed', finished_at = clock_timestamp(),
                        duration_ms = $2, error = $3
                  WHERE id = $1",
                &[action.id.into(), ms.into(), message.clone().into()],
            )?;
            announce(action, "failed", Some(message))
        }
    }
}

/// Marks failed the actions a stop interrupted (the worker runs one at a time, so any action
/// still running when it starts was cut short).
fn interrupted() -> spi::Result<()> {
    if Spi::get_one::<bool>("SELECT to_regclass('optischema.action_log') IS NOT NULL")?
        != Some(true)
    {
        return Ok(());
    }
    Spi::run(
        "UPDATE optischema.action_log
            SET status = 'failed', finished_at = clock_timestamp(),
                error = 'interrupted: the server or the apply worker stopped while it ran'
          WHERE status = 'running'",
    )
}

/// After a failed build: the invalid index the build left, if any, as a statement dropping it.
fn leftover_index(action: &Action) -> spi::Result<Option<String>> {
    Spi::get_one_with_args::<String>(
        "SELECT (SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', n.nspname, c.relname)
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = $1 AND c.relkind = 'i' LIMIT 1)",
        &[index_name(action.recommendation_id).into()],
    )
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn optischema_apply_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    crate::plans::capture::mark_worker();
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{WORKER_TYPE} started in database \"{database}\"");
    let mut log_once = LogOnce::new("applying fixes");
    let mut session_ready = false;
    // an action that was running when the server or this worker stopped did not finish
    let _ = in_transaction(interrupted);
    while BackgroundWorker::wait_latch(Some(POLL)) {
        if unsafe { pg_sys::ConfigReloadPending } != 0 {
            unsafe {
                pg_sys::ConfigReloadPending = 0;
                pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
            }
        }
        if !session_ready {
            session_ready = in_transaction(prepare_session).is_ok();
        }
        loop {
            let action = match in_transaction(next_action) {
                Ok(Ok(Some(action))) => action,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    log_once.report(
                        &format!("error:{e}"),
                        PgLogLevel::WARNING,
                        &format!("optischema: applying failed: {e}"),
                        None,
                    );
                    break;
                }
                Err(message) => {
                    log_once.report(
                        &format!("error:{message}"),
                        PgLogLevel::WARNING,
                        &format!("optischema: applying failed: {message}"),
                        None,
                    );
                    break;
                }
            };
            let started = Instant::now();
            let outcome = action
                .steps
                .iter()
                .try_for_each(|step| exec::run_top_level(step));
            let took = started.elapsed();
            if outcome.is_err() && action.kind == "index" && action.mode == "apply" {
                // a failed CREATE INDEX CONCURRENTLY leaves an invalid index: drop it
                if let Ok(Ok(Some(drop))) = in_transaction(|| leftover_index(&action)) {
                    let _ = exec::run_top_level(&drop);
                }
            }
            match in_transaction(|| finish(&action, &outcome, took)) {
                Ok(Ok(())) => log_once.clear(),
                Ok(Err(e)) => log_once.report(
                    &format!("error:{e}"),
                    PgLogLevel::WARNING,
                    &format!("optischema: recording an action failed: {e}"),
                    None,
                ),
                Err(message) => log_once.report(
                    &format!("error:{message}"),
                    PgLogLevel::WARNING,
                    &format!("optischema: recording an action failed: {message}"),
                    None,
                ),
            }
            if BackgroundWorker::sigterm_received() {
                break;
            }
        }
    }
    log!("{WORKER_TYPE} stopping");
}
