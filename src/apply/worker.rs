//! The apply worker: runs queued actions one at a time (a trial: see `crate::trial`), each statement at top level with no
//! transaction of its own around it (what `CONCURRENTLY` needs), bounded by the session's
//! `lock_timeout`. Before: the action is marked running and, for a drop, the index's definition
//! is kept for revert. After: the outcome is recorded, the recommendation's status follows, and
//! NOTIFY `apply` says so. A failed build leaves no invalid index behind.

use super::action::{self, Step};
use super::{exec, index_name, Mode};
use crate::bgworker::{flattened, in_transaction, prepare_session, reload_when_asked, LogOnce};
use crate::notify;
use crate::rules::Kind;
use crate::settings;
use crate::trial::Trial;
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
    /// None for a text OptiSchema never writes (the action is refused), as for `kind` and `plan`.
    mode: Option<Mode>,
    kind: Option<Kind>,
    /// What to run, typed.
    plan: Option<Vec<Step>>,
}

impl Action {
    /// The action's kind, mode and steps, when they are all OptiSchema's.
    fn typed(&self) -> Result<(Kind, Mode, &[Step]), String> {
        match (self.kind, self.mode, self.plan.as_deref()) {
            (Some(kind), Some(mode), Some(plan)) => Ok((kind, mode, plan)),
            _ => Err(
                "refused to run an action whose plan is not a list of OptiSchema's steps".into(),
            ),
        }
    }

    fn is(&self, kind: Kind, mode: Mode) -> bool {
        self.kind == Some(kind) && self.mode == Some(mode)
    }
}

/// Takes the next queued action and prepares it; None when there is none.
fn next_action() -> spi::Result<Option<Action>> {
    if !crate::bgworker::installed("optischema.action_log")? {
        return Ok(None);
    }
    let taken = Spi::connect_mut(|client| {
        let table = client.update(
            include_str!("../../sql/apply/take_action.sql"),
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
            mode: row.get::<String>(3)?.as_deref().and_then(Mode::parse),
            kind: row.get::<String>(4)?.as_deref().and_then(Kind::parse),
            plan: row
                .get::<pgrx::JsonB>(5)?
                .and_then(|plan| serde_json::from_value(plan.0).ok()),
        }))
    })?;
    let Some(action) = taken else { return Ok(None) };
    // what undoes a drop, a setting or statistics is what exists now
    if action.mode == Some(Mode::Apply) {
        if let Some(plan) = &action.plan {
            let undo: Result<Vec<Step>, String> =
                plan.iter().try_fold(Vec::new(), |mut all, step| {
                    all.extend(step.undo_before()?);
                    Ok(all)
                });
            if let Some(undo) = undo.ok().filter(|u| !u.is_empty()) {
                record_undo(action.id, action.recommendation_id, &undo)?;
            }
        }
    }
    announce(&action, "started")?;
    Ok(Some(action))
}

/// Keeps what undoes action `action_id`: the typed steps, and how they read now.
fn record_undo(action_id: i64, recommendation_id: i64, undo: &[Step]) -> spi::Result<()> {
    let readable = action::statements(undo, recommendation_id)
        .map(|s| s.join("; "))
        .ok();
    let json = pgrx::JsonB(serde_json::to_value(undo).expect("steps serialize"));
    Spi::run_with_args(
        "UPDATE optischema.action_log SET undo = $2, undo_sql = $3 WHERE id = $1",
        &[action_id.into(), json.into(), readable.into()],
    )
}

/// NOTIFY `apply`: the phase only; an error's text (which may quote a row's values) stays in
/// optischema.actions, for admins.
fn announce(action: &Action, phase: &str) -> spi::Result<()> {
    let mode = action.mode.map_or("unknown", Mode::as_str);
    let payload = notify::apply_payload(action.id, action.recommendation_id, mode, phase);
    Spi::connect_mut(|client| notify::send(client, &[payload]))
}

/// Records what a trial measured: in the action, in the recommendation's evidence, on NOTIFY.
fn record_trial(action: &Action, trial: &Trial, ms: f64) -> spi::Result<()> {
    let json = pgrx::JsonB(serde_json::to_value(trial).expect("a trial serializes"));
    Spi::run_with_args(
        include_str!("../../sql/apply/trial_done.sql"),
        &[action.id.into(), ms.into(), json.into()],
    )?;
    let json = pgrx::JsonB(serde_json::to_value(trial).expect("a trial serializes"));
    Spi::run_with_args(
        include_str!("../../sql/apply/trial_evidence.sql"),
        &[action.recommendation_id.into(), json.into()],
    )?;
    let payload = notify::trial_payload(&notify::TrialDone {
        id: action.recommendation_id,
        action_id: action.id,
        ran_in: trial.ran_in,
        before_ms: trial.before_ms,
        after_ms: trial.after_ms,
        improvement_pct: trial.improvement_pct,
        plan_changed: trial.plan_changed,
        errors: trial.errors,
    });
    Spi::connect_mut(|client| notify::send(client, &[payload]))?;
    announce(action, "done")
}

/// Records how the action ended and moves the recommendation's status.
fn finish(
    action: &Action,
    outcome: &Result<Option<Trial>, String>,
    took: Duration,
) -> spi::Result<()> {
    let ms = took.as_secs_f64() * 1000.0;
    match outcome {
        Ok(Some(trial)) => record_trial(action, trial, ms),
        Ok(None) => {
            if action.mode == Some(Mode::Apply) {
                // the index built is dropped by its oid
                let built = action.plan.iter().flatten().find_map(|step| match step {
                    Step::BuildIndex { table, .. } => Some(*table),
                    _ => None,
                });
                if let Some(table) = built {
                    if let Ok(Some(undo)) = action::built_index(table, action.recommendation_id) {
                        record_undo(action.id, action.recommendation_id, &[undo])?;
                    }
                }
            }
            Spi::run_with_args(
                include_str!("../../sql/apply/action_done.sql"),
                &[action.id.into(), ms.into()],
            )?;
            let status = if action.mode == Some(Mode::Revert) {
                "reverted"
            } else {
                "applied"
            };
            Spi::run_with_args(
                "UPDATE optischema.recommendation_store SET status = $2, updated_at = now() WHERE id = $1",
                &[action.recommendation_id.into(), status.into()],
            )?;
            announce(action, "done")
        }
        Err(message) => {
            Spi::run_with_args(
                include_str!("../../sql/apply/action_failed.sql"),
                &[action.id.into(), ms.into(), message.clone().into()],
            )?;
            announce(action, "failed")
        }
    }
}

/// Marks failed the actions a stop interrupted (the worker runs one at a time, so any action
/// still running when it starts was cut short); the recommendations whose index build was.
fn interrupted() -> spi::Result<Vec<i64>> {
    if !crate::bgworker::installed("optischema.action_log")? {
        return Ok(Vec::new());
    }
    Ok(
        Spi::get_one::<Vec<i64>>(include_str!("../../sql/apply/fail_interrupted.sql"))?
            .unwrap_or_default(),
    )
}

/// After a failed build: the invalid index the build left, if any, as a statement dropping it.
fn leftover_index(recommendation_id: i64) -> spi::Result<Option<String>> {
    Spi::get_one_with_args::<String>(
        include_str!("../../sql/apply/leftover_index.sql"),
        &[index_name(recommendation_id).into()],
    )
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn optischema_apply_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // an index build or a trial is cut short instead of holding up a shutdown (what it leaves
    // is cleaned up at the next start)
    crate::bgworker::die_on_sigterm();
    crate::plans::capture::mark_worker();
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{WORKER_TYPE} started in database \"{database}\"");
    let mut log_once = LogOnce::new("applying fixes");
    let mut session_ready = false;
    clean_up_interrupted();
    while crate::bgworker::sleep(POLL) {
        reload_when_asked();
        if !session_ready {
            session_ready = in_transaction(prepare_session).is_ok();
        }
        run_queue(&mut log_once);
    }
    log!("{WORKER_TYPE} stopping");
}

/// An action that was running when the server or its worker stopped did not finish: it is
/// failed, and the invalid index a cut-short build left is dropped.
pub(crate) fn clean_up_interrupted() {
    if let Ok(Ok(cut_short)) = in_transaction(interrupted) {
        for recommendation_id in cut_short {
            if let Ok(Ok(Some(drop))) = in_transaction(|| leftover_index(recommendation_id)) {
                let _ = exec::run_top_level(&drop);
            }
        }
    }
}

/// Sends the queued announcements and runs the queued actions, one after another, until the
/// queue is empty or the worker is asked to stop: the apply worker's loop in its database, and
/// a database worker's turn in the others.
pub(crate) fn run_queue(log_once: &mut LogOnce) {
    loop {
        // what users' sessions asked to announce goes out before anything else
        if let Err(message) = flattened(in_transaction(|| {
            Spi::connect_mut(|client| notify::send_queued(client).map(|_| ()))
        })) {
            log_once.failed("sending queued announcements", &message);
        }
        let action = match flattened(in_transaction(next_action)) {
            Ok(Some(action)) => action,
            Ok(None) => break,
            Err(message) => {
                log_once.failed("applying", &message);
                break;
            }
        };
        let started = Instant::now();
        // each statement is rebuilt from the typed plan and read again by the parser
        // before anything runs: a step that is not what the recommendation's kind runs
        // fails the action, whoever queued it
        let statements = flattened(in_transaction(|| {
            let (kind, mode, plan) = action.typed()?;
            let statements = action::statements(plan, action.recommendation_id)?;
            super::validate::check_all(kind, mode, &statements, action.recommendation_id)?;
            Ok::<_, String>((kind, mode, statements))
        }));
        let outcome = match statements {
            Err(refused) => Err(refused),
            Ok((kind, Mode::Trial, statements)) => {
                crate::trial::run::trial(action.id, action.recommendation_id, kind, &statements)
                    .map(Some)
            }
            Ok((_, _, statements)) => statements
                .iter()
                .try_for_each(|step| exec::run_top_level(step))
                .map(|()| None),
        };
        let took = started.elapsed();
        if outcome.is_err() && action.is(Kind::Index, Mode::Apply) {
            // a failed CREATE INDEX CONCURRENTLY leaves an invalid index: drop it
            if let Ok(Ok(Some(drop))) = in_transaction(|| leftover_index(action.recommendation_id))
            {
                let _ = exec::run_top_level(&drop);
            }
        }
        match flattened(in_transaction(|| finish(&action, &outcome, took))) {
            Ok(()) => log_once.clear(),
            Err(message) => log_once.failed("recording an action", &message),
        }
        if crate::bgworker::stop_requested() {
            break;
        }
    }
}
