//! Applying and reverting recommendations: `apply(id)` and `revert(id)` queue the statement
//! OptiSchema generated and stored for the recommendation (never text from the caller); the
//! apply worker runs it. Both return the action's id, to follow in `optischema.actions`.

use super::{reject, ArgError, ADMIN};
use crate::acting;
use crate::apply;
use pgrx::pg_sys::panic::ErrorReport;
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
fn locked(id: i64) -> (String, String, String) {
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
    .unwrap_or_else(|e| error!("optischema: reading the recommendation failed: {e}"));
    row.unwrap_or_else(|| {
        reject(ArgError {
            message: format!("there is no recommendation with id {id}"),
            hint: "Take an id from optischema.recommendations.".into(),
        })
    })
}

/// Queues the action for the apply worker, recorded as asked by `caller`.
fn queue(
    caller: pg_sys::Oid,
    id: i64,
    mode: &str,
    steps: Vec<String>,
    undo: Option<String>,
) -> i64 {
    let who = acting::role_name(caller);
    let action = Spi::get_one_with_args::<i64>(
        "WITH a AS (INSERT INTO optischema.action_log (recommendation_id, mode, steps, undo_sql, requested_by)
                    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id)
         SELECT (SELECT id FROM a)",
        &[id.into(), mode.into(), steps.into(), undo.into(), who.into()],
    )
    .unwrap_or_else(|e| error!("optischema: queueing the action failed: {e}"));
    let Some(action) = action else {
        reject(ArgError {
            message: format!("an action on recommendation {id} is already queued or running"),
            hint: "Follow it in optischema.actions, then try again.".into(),
        })
    };
    crate::worker::wake_at_commit(apply::worker::WORKER_TYPE);
    action
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
        Some("apply") => "apply",
        Some("trial") => "trial",
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

fn queue_apply(caller: pg_sys::Oid, id: i64, mode: &str) -> i64 {
    let (kind, status, sql) = locked(id);
    if status != "open" {
        reject(ArgError {
            message: format!(
                "recommendation {id} is {status}: only open recommendations can be {}",
                if mode == "trial" { "tried" } else { "applied" }
            ),
            hint: "See optischema.recommendations for its status.".into(),
        })
    }
    let steps = match apply::steps_for(&kind, &sql, id) {
        Ok(steps) => steps,
        // a rewrite or a session setting is the application's to make, but it can be tried
        Err(_) if mode == "trial" && matches!(kind.as_str(), "rewrite" | "config") => vec![sql.clone()],
        Err(message) => reject(ArgError {
            message: format!("recommendation {id}: {message}"),
            hint: "Index, drop_index, statistics, analyze and per-role, per-database or server-wide config recommendations can be applied; rewrites and session settings tried.".into(),
        }),
    };
    if let Err(message) = apply::validate::check_all(&kind, mode, &steps, id) {
        reject_unsupported(id, message)
    }
    permitted(caller, id, &kind, &steps, mode);
    // the undo of a drop or a setting is what exists when the apply worker runs it
    let undo = (kind == "statistics" && mode == "apply")
        .then(|| apply::undo_statistics(&sql))
        .flatten();
    queue(caller, id, mode, steps, undo)
}

/// A recommendation whose statement OptiSchema would not run (SQLSTATE 0A000).
fn reject_unsupported(id: i64, message: String) -> ! {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("recommendation {id}: {message}"),
        "optischema",
    )
    .set_hint("OptiSchema runs only the statements it generates for a recommendation's kind.")
    .report(PgLogLevel::ERROR);
    unreachable!()
}

/// A setting is changed only where the caller could change it itself: ALTER SYSTEM needs a
/// superuser, a role's or a database's settings what ALTER ROLE or ALTER DATABASE need.
fn permitted(caller: pg_sys::Oid, id: i64, kind: &str, steps: &[String], mode: &str) {
    if kind != "config" || mode == "trial" {
        return;
    }
    for step in steps.iter().filter(|s| s.as_str() != apply::RELOAD) {
        // a scope not understood (ALTER ROLE CURRENT_USER, say) is not allowed
        let allowed = apply::validate::config_scope(step)
            .is_some_and(|scope| apply::validate::may_set(caller, &scope));
        if !allowed {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("recommendation {id}: permission denied to make this change: {step}"),
                "Only a role that could run the statement itself can apply it (ALTER SYSTEM needs a superuser)."
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
    if kind == "analyze" {
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
    let undo = Spi::get_one_with_args::<String>(
        "SELECT (SELECT undo_sql FROM optischema.action_log
                  WHERE recommendation_id = $1 AND mode = 'apply' AND status = 'done'
                  ORDER BY id DESC LIMIT 1)",
        &[id.into()],
    )
    .unwrap_or_else(|e| error!("optischema: reading the actions failed: {e}"));
    let Some(undo) = undo else {
        reject(ArgError {
            message: format!("recommendation {id} was applied without a way back recorded"),
            hint: "Undo it by hand; optischema.actions shows what was run.".into(),
        })
    };
    let steps = apply::undo_steps(&undo);
    if let Err(message) = apply::validate::check_all(&kind, "revert", &steps, id) {
        reject_unsupported(id, message)
    }
    permitted(caller, id, &kind, &steps, "revert");
    queue(caller, id, "revert", steps, None)
}
