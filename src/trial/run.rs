//! Running a trial from the apply worker: gather what it needs here in a short transaction,
//! then run it in the sandbox (no transaction open here meanwhile) or, without one, here in a
//! subtransaction that is always rolled back.

use super::gather::{self, Plan, Subject};
use super::{compared, read_explain, repeated, session_setting, Run, StatementTrial, Trial};
use crate::acting::{act_as, Actor};
use crate::apply::Mode;
use crate::bgworker::in_transaction;
use crate::plans::explain::{self, in_rolled_back_subtransaction};
use crate::rules::Kind;
use crate::settings;
use pgrx::prelude::*;

/// Longest a statement may run in the sandbox: setting it up includes index builds on copies.
const SANDBOX_TIMEOUT_MS: i32 = 60_000;

/// Tries action `action_id` on recommendation `recommendation_id`.
pub fn trial(
    action_id: i64,
    recommendation_id: i64,
    kind: Kind,
    steps: &[String],
) -> Result<Trial, String> {
    let plan = in_transaction(|| gather::plan(action_id, recommendation_id, kind, steps))?
        .map_err(|e| e.to_string())?;
    if plan.subjects.is_empty() {
        return Err(
            "the recommendation affects no statement OptiSchema knows: nothing to try".into(),
        );
    }
    match settings::sandbox_conninfo() {
        // an ANALYZE would be tried on fresh copies, which tells nothing: it is tried here
        Some(conninfo) if kind != Kind::Analyze => {
            let limit = i64::from(settings::SANDBOX_COPY_LIMIT_MB.get()) << 20;
            let copy = in_transaction(|| gather::copy(&plan, limit))?.map_err(|e| e.to_string())?;
            let (copied, statements) =
                super::sandbox::run(&plan, &copy, &conninfo, SANDBOX_TIMEOUT_MS)?;
            Ok(Trial::new(action_id, "sandbox", copied, statements))
        }
        _ => {
            let statements = plan.subjects.iter().flat_map(|s| here(&plan, s)).collect();
            Ok(Trial::new(action_id, "here", Vec::new(), statements))
        }
    }
}

/// EXPLAIN ANALYZE of `text` here, read-only, as `role` inside a security-restricted
/// operation (see [`crate::acting`]), rolled back. Not at all when the role is unknown.
fn explain_here(text: &str, role: Option<&str>) -> Result<Run, String> {
    let actor = Actor::of_statement(role)?;
    let outcome = in_rolled_back_subtransaction(|| {
        explain::set_local(c"transaction_read_only", c"on");
        act_as(actor);
        repeated(|| {
            let json = Spi::get_one::<pgrx::Json>(&format!(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}"
            ))
            .map_err(|e| e.to_string())?
            .ok_or("EXPLAIN returned nothing")?;
            read_explain(&json.0.to_string())
        })
    });
    match outcome {
        Ok(run) => run,
        Err((message, _)) => Err(message),
    }
}

/// What the change runs here, rolled back with the rest; None when it cannot run here (an
/// index build or drop would block writes), and the after comes from the projection.
fn change_here(plan: &Plan) -> Option<Vec<String>> {
    match plan.kind {
        Kind::Config => Some(
            plan.steps
                .iter()
                .filter_map(|s| session_setting(s, true))
                .collect(),
        ),
        // CREATE STATISTICS and ANALYZE take locks that let writes go on
        Kind::Statistics | Kind::Analyze => Some(plan.steps.clone()),
        Kind::Rewrite => Some(Vec::new()),
        Kind::Index | Kind::DropIndex => None,
    }
}

/// One statement's trial here: read-only statements only.
fn here(plan: &Plan, s: &Subject) -> Vec<StatementTrial> {
    if let Some(t) = s.not_run() {
        return vec![t];
    }
    s.texts
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let mut t = s.entry(i);
            if !s.read_only {
                t.note = Some("not run: it writes, and only a sandbox runs writes".into());
                return t;
            }
            let after_text = s.after_text(i, plan.kind);
            // one transaction a statement: the worker's statement timeout bounds each
            let ran = in_transaction(|| {
                in_rolled_back_subtransaction(|| {
                    // statement texts name tables as the application sees them
                    crate::acting::use_planning_path();
                    let before = explain_here(text, s.role.as_deref());
                    let after = change_here(plan).map(|change| {
                        for sql in &change {
                            // what runs here, as the worker, is one checked statement
                            crate::apply::validate::check(plan.kind, Mode::Trial, sql, 0)?;
                            if let Err(e) = Spi::run(sql) {
                                return Err(format!("the change failed: {e}"));
                            }
                        }
                        explain_here(after_text, s.role.as_deref())
                    });
                    Ok::<_, String>((before, after))
                })
            });
            match ran {
                Ok(Ok(Err(message))) => t.error = Some(message),
                Ok(Ok(Ok((before, after)))) => {
                    match before {
                        Ok(r) => t.before = Some(r),
                        Err(e) => t.error = Some(format!("before: {e}")),
                    }
                    match after {
                        Some(Ok(r)) => t.after = Some(r),
                        Some(Err(e)) => t.error = t.error.take().or(Some(format!("after: {e}"))),
                        None => {}
                    }
                }
                Ok(Err((message, _))) | Err(message) => t.error = Some(message),
            }
            compared(t)
        })
        .collect()
}
