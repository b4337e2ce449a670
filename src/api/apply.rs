//! Applying and reverting recommendations: `apply(id)` and `revert(id)` queue typed steps read
//! from the statement OptiSchema generated for the recommendation (never text from the
//! caller); the apply worker rebuilds and runs them. Both return the action's id, to follow in `optischema.actions`.

use super::{reject, ArgError, ADMIN};
use crate::acting;
use crate::apply;
use crate::apply::action::{self, Step};
use crate::apply::Mode;
use crate::errors;
use crate::rules::Kind;
use pgrx::prelude::*;

fn required(id: Option<i64>) -> i64 {
    id.unwrap_or_else(|| {
        reject(ArgError {
            message: "id must not be NULL".into(),
            hint: "Take an id from optischema.recommendations.".into(),
        })
    })
}

/// The recommendation's kind, status and SQL, locked until the caller's transaction ends.
fn locked(id: i64) -> (Kind, String, String) {
    let row = Spi::connect_mut(|client| {
        let table = client.update(
            "SELECT kind, status, sql FROM optischema.recommendation_store WHERE id = $1 FOR UPDATE",
            Some(1),
            &[id.into()],
        )?;
        if table.is_empty() {
            return Ok::<_, pgrx::spi::Error>(None);
        }
        let r = table.first();
        Ok(Some((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<String>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default(),
        )))
    })
    .unwrap_or_else(|e| errors::internal("reading the recommendation", e));
    let (kind, status, sql) = row.unwrap_or_else(|| {
        reject(ArgError {
            message: format!("there is no recommendation with id {id}"),
            hint: "Take an id from optischema.recommendations.".into(),
        })
    });
    match Kind::parse(&kind) {
        Some(kind) => (kind, status, sql),
        None => reject_unsupported(
            id,
            format!("applying {kind} recommendations is not supported"),
        ),
    }
}

/// Queues the action for the apply worker, recorded as asked by `caller`: the typed steps it
/// runs, and how they read now.
fn queue(caller: pg_sys::Oid, id: i64, mode: Mode, plan: &[Step], steps: Vec<String>) -> i64 {
    let who = acting::role_name(caller);
    let plan = pgrx::JsonB(serde_json::to_value(plan).expect("steps serialize"));
    let action = Spi::get_one_with_args::<i64>(
        include_str!("../../sql/api/queue_action.sql"),
        &[
            id.into(),
            mode.as_str().into(),
            plan.into(),
            steps.into(),
            who.into(),
        ],
    )
    .unwrap_or_else(|e| errors::internal("queueing the action", e));
    let Some(action) = action else {
        reject(ArgError {
            message: format!("an action on recommendation {id} is already queued or running"),
            hint: "Follow it in optischema.actions, then try again.".into(),
        })
    };
    crate::databases::wake_apply_at_commit();
    action
}

/// The statements `plan` runs now, each checked as the worker will check it again.
fn checked(kind: Kind, mode: Mode, id: i64, plan: &[Step]) -> Vec<String> {
    let steps = action::statements(plan, id)
        .and_then(|steps| apply::validate::check_all(kind, mode, &steps, id).map(|()| steps));
    steps.unwrap_or_else(|message| reject_unsupported(id, message))
}

/// Queues the fix of open recommendation `id`: an index is built with CREATE INDEX
/// CONCURRENTLY; an index dropped with DROP INDEX CONCURRENTLY (its definition kept for
/// revert); extended statistics created, then their table analysed; a table analysed; a
/// per-role, per-database or server-wide (ALTER SYSTEM, then a reload) setting changed (the
/// value it had kept for revert). With mode
/// `trial`, nothing changes here: the statements it affects are run before and after the
/// change in the sandbox (`optischema.sandbox_conninfo`) or, without one, here, rolled back.
/// Returns the action's id.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn apply(id: Option<i64>, mode: default!(Option<String>, "'apply'")) -> i64 {
    let caller = acting::caller();
    acting::require_member(caller, ADMIN);
    let id = required(id);
    let mode = match mode.as_deref().map(str::trim) {
        Some("apply") => Mode::Apply,
        Some("trial") => Mode::Trial,
        other => reject(ArgError {
            message: format!(
                "mode must be 'apply' or 'trial', not {}",
                other.map_or("NULL".to_string(), |m| format!("'{m}'"))
            ),
            hint: "'trial' tries the fix without changing anything; 'apply' makes it.".into(),
        }),
    };
    acting::as_extension_owner(|| queue_apply(caller, id, mode))
}

fn queue_apply(caller: pg_sys::Oid, id: i64, mode: Mode) -> i64 {
    let (kind, status, sql) = locked(id);
    if status != "open" {
        reject(ArgError {
            message: format!(
                "recommendation {id} is {status}: only open recommendations can be {}",
                if mode == Mode::Trial {
                    "tried"
                } else {
                    "applied"
                }
            ),
            hint: "See optischema.recommendations for its status.".into(),
        })
    }
    let plan = match action::from_recommendation(kind, mode, &sql) {
        Ok(plan) => plan,
        Err(message) => reject_unsupported(id, message),
    };
    let steps = checked(kind, mode, id, &plan);
    permitted(caller, id, &plan, mode);
    queue(caller, id, mode, &plan, steps)
}

/// A recommendation whose statement OptiSchema would not run (SQLSTATE 0A000).
fn reject_unsupported(id: i64, message: String) -> ! {
    errors::unsupported(
        format!("recommendation {id}: {message}"),
        "OptiSchema runs only the statements it generates for a recommendation's kind.",
    )
}

/// A setting is changed only where the caller could change it itself: ALTER SYSTEM needs a
/// superuser, a role's or a database's settings what ALTER ROLE or ALTER DATABASE need.
fn permitted(caller: pg_sys::Oid, id: i64, plan: &[Step], mode: Mode) {
    if mode == Mode::Trial {
        return;
    }
    for step in plan {
        let Step::Set { scope, .. } = step else {
            continue;
        };
        if !scope.may_be_set_by(caller) {
            let what = step.statement(id).ok().flatten().unwrap_or_default();
            errors::insufficient_privilege(
                format!("recommendation {id}: permission denied to make this change: {what}"),
                "Only a role that could run the statement itself can apply it (ALTER SYSTEM needs a superuser).",
            );
        }
    }
}

/// Queues the undoing of applied recommendation `id`: the index built is dropped, the index
/// dropped is built again from its exact definition, statistics are dropped, a setting gets
/// its previous value back. Returns the action's id.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn revert(id: Option<i64>) -> i64 {
    let caller = acting::caller();
    acting::require_member(caller, ADMIN);
    let id = required(id);
    acting::as_extension_owner(|| queue_revert(caller, id))
}

fn queue_revert(caller: pg_sys::Oid, id: i64) -> i64 {
    let (kind, status, _) = locked(id);
    if kind == Kind::Analyze {
        reject(ArgError {
            message: format!("recommendation {id} is an ANALYZE, which has nothing to undo"),
            hint: "Statistics change with every ANALYZE; the next one replaces these.".into(),
        })
    }
    if status != "applied" {
        reject(ArgError {
            message: format!(
                "recommendation {id} is {status}: only applied recommendations can be reverted"
            ),
            hint: "See optischema.actions for what was applied.".into(),
        })
    }
    let undo = action::last_undo(id).unwrap_or_else(|e| errors::internal("reading the actions", e));
    let Some(plan) = undo else {
        reject(ArgError {
            message: format!("recommendation {id} was applied without a way back recorded"),
            hint: "Undo it by hand; optischema.actions shows what was run.".into(),
        })
    };
    let steps = checked(kind, Mode::Revert, id, &plan);
    permitted(caller, id, &plan, Mode::Revert);
    queue(caller, id, Mode::Revert, &plan, steps)
}
