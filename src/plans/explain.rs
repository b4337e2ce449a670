//! Planning a normalized statement without running it: `PREPARE` it (parameter types
//! inferred), then `EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE` it with `force_generic_plan`, all in
//! a subtransaction that is rolled back. PostgreSQL 15 has no `EXPLAIN (GENERIC_PLAN)`.

use super::{lexer, repair};
use crate::acting::{act_as, Actor};
use crate::errors;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::panic::AssertUnwindSafe;

const PROBE: &str = "optischema_plan_probe";

#[derive(Debug, Clone, PartialEq)]
pub enum PlanOutcome {
    Planned {
        /// EXPLAIN's JSON output.
        plan: serde_json::Value,
        /// The text actually planned, when typed literals had to be repaired.
        planned_sql: Option<String>,
    },
    /// The statement cannot be planned (utility statement, truncated text...). `lasting` is
    /// false for failures that depend on the moment or the caller (a lock or statement
    /// timeout, missing privileges): those are worth trying again later.
    Unexplainable { reason: String, lasting: bool },
}

/// Plans `sql` generically, as `actor` (see [`plan_in_subtransaction`]). Never raises: a
/// failure is an `Unexplainable` with the reason.
pub fn generic_plan(sql: &str, actor: Actor<'_>) -> PlanOutcome {
    plan_with(sql, None, actor)
}

/// Plans `sql` as a custom plan for one captured value set (SQL literals, in `$n` order).
pub fn custom_plan(sql: &str, values: &[Option<String>], actor: Actor<'_>) -> PlanOutcome {
    if !values
        .iter()
        .flatten()
        .all(|v| super::capture::is_plain_literal(v))
    {
        return PlanOutcome::Unexplainable {
            reason: "a captured value is not a plain literal".into(),
            lasting: false,
        };
    }
    plan_with(sql, Some(values), actor)
}

fn plan_with(sql: &str, values: Option<&[Option<String>]>, actor: Actor<'_>) -> PlanOutcome {
    // without parameters the statement is explained as it stands: no PREPARE, no repair
    let has_params = sql.contains('$');
    let planned_sql = repaired(sql);
    let text = planned_sql.clone().unwrap_or_else(|| sql.to_string());
    let prepared = has_params || values.is_some();
    let result =
        in_rolled_back_subtransaction(|| plan_in_subtransaction(&text, values, actor, prepared));
    if prepared {
        drop_probe();
    }
    match unless_canceled(result) {
        Ok(plan) => PlanOutcome::Planned { plan, planned_sql },
        Err((reason, sqlstate)) => PlanOutcome::Unexplainable {
            lasting: is_lasting(&sqlstate),
            reason,
        },
    }
}

/// `sql` with typed literals of parameters (`interval $1`) made plannable, when it has any.
fn repaired(sql: &str) -> Option<String> {
    if !sql.contains('$') {
        return None;
    }
    in_rolled_back_subtransaction(|| repair::repair_typed_params(sql, &lexer::tokens(sql)))
        .unwrap_or(None)
}

/// The text to plan for `sql`: repaired when it has to be (see [`repaired`]).
pub fn planning_text(sql: &str) -> String {
    repaired(sql).unwrap_or_else(|| sql.to_string())
}

/// Sets `name` to `value` for the rest of the current (sub)transaction, as SET LOCAL does,
/// without a round trip through SPI.
pub fn set_local(name: &std::ffi::CStr, value: &std::ffi::CStr) {
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            0,
            false,
        );
    }
}

/// Statements in `sql`, as the server's parser counts them (raises on a syntax error).
/// The node types of the statements `sql` holds, as the server's parser reads them.
fn statement_kinds(sql: &str) -> Vec<pg_sys::NodeTag> {
    let text = std::ffi::CString::new(sql).unwrap_or_else(|_| errors::nul_byte("the statement"));
    unsafe {
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        crate::whatif::hypo::list_items(list)
            .into_iter()
            .map(|raw| (*(*(raw as *mut pg_sys::RawStmt)).stmt).type_)
            .collect()
    }
}

/// Planning folds immutable functions of constants, which runs them: the statement is planned
/// as `actor`, inside a security-restricted operation (see [`crate::acting`]). PREPARE is not
/// allowed there, so the statement is prepared first (parse analysis runs no user code) and
/// planned by the EXPLAIN EXECUTE that follows.
fn plan_in_subtransaction(
    text: &str,
    values: Option<&[Option<String>]>,
    actor: Actor<'_>,
    prepared: bool,
) -> serde_json::Value {
    // one statement only: SPI would run every statement of "SELECT 1; DROP TABLE t"
    let kinds = statement_kinds(text);
    if kinds.len() != 1 {
        errors::not_one_statement(kinds.len());
    }
    use pg_sys::NodeTag::*;
    if !matches!(
        kinds[0],
        T_SelectStmt | T_InsertStmt | T_UpdateStmt | T_DeleteStmt | T_MergeStmt
    ) {
        errors::unsupported(
            "utility statements have no plan",
            "Give a SELECT, INSERT, UPDATE, DELETE or MERGE.",
        );
    }
    set_local(c"lock_timeout", c"1s");
    if let Actor::Role(_) = actor {
        // PREPARE resolves the names: with the planning path, as EXECUTE will
        crate::acting::use_planning_path();
    }
    if !prepared {
        act_as(actor);
        return Spi::get_one::<pgrx::Json>(&format!("EXPLAIN (FORMAT JSON, VERBOSE) {text}"))
            .unwrap_or_else(|e| errors::internal("EXPLAIN", e))
            .unwrap_or_else(|| errors::internal("EXPLAIN", "it returned nothing"))
            .0;
    }
    drop_probe_now();
    let mode = if values.is_some() {
        c"force_custom_plan"
    } else {
        c"force_generic_plan"
    };
    set_local(c"plan_cache_mode", mode);
    // an unquoted captured constant keeps the type it had in the application's statement;
    // the others are typed by their use
    let declared = match values {
        Some(v) if !v.is_empty() => format!(
            "({})",
            v.iter()
                .map(|x| x
                    .as_deref()
                    .and_then(super::capture::literal_type)
                    .unwrap_or("unknown"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    };
    Spi::run(&format!("PREPARE {PROBE}{declared} AS {text}"))
        .unwrap_or_else(|e| errors::internal("PREPARE", e));
    let params = Spi::get_one::<i32>(&format!(
        "SELECT cardinality(parameter_types) FROM pg_catalog.pg_prepared_statements WHERE name = '{PROBE}'"
    ))
    .ok()
    .flatten()
    .unwrap_or(0) as usize;
    let args: Vec<String> = match values {
        None => vec!["NULL".to_string(); params],
        Some(v) if v.len() == params => v
            .iter()
            .map(|x| x.clone().unwrap_or_else(|| "NULL".into()))
            .collect(),
        Some(v) => errors::raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "the captured set has {} values, the statement takes {params}",
                v.len()
            ),
            None,
        ),
    };
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("({})", args.join(", "))
    };
    act_as(actor);
    Spi::get_one::<pgrx::Json>(&format!(
        "EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE {PROBE}{args}"
    ))
    .unwrap_or_else(|e| errors::internal("EXPLAIN", e))
    .unwrap_or_else(|| errors::internal("EXPLAIN", "it returned nothing"))
    .0
}

/// The five-character SQLSTATE packed in an error code (PostgreSQL's MAKE_SQLSTATE).
fn sqlstate(code: PgSqlErrorCode) -> String {
    let code = code as isize;
    (0..5)
        .map(|i| (((code >> (6 * i)) & 0x3F) as u8 + b'0') as char)
        .collect()
}

/// Syntax errors, undeterminable parameter types, unsupported features and missing objects
/// stay; privileges, timeouts, lock waits and resource shortages pass.
fn is_lasting(sqlstate: &str) -> bool {
    (sqlstate.starts_with("42") && sqlstate != "42501")
        || sqlstate.starts_with("0A")
        || sqlstate.starts_with("22")
}

/// Prepared statements are not transactional: the probe outlives a rollback unless dropped.
fn drop_probe() {
    let _ = in_rolled_back_subtransaction(drop_probe_now);
}

fn drop_probe_now() {
    let exists = Spi::get_one::<bool>(&format!(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_prepared_statements WHERE name = '{PROBE}')"
    ))
    .ok()
    .flatten()
    .unwrap_or(false);
    if exists {
        Spi::run(&format!("DEALLOCATE {PROBE}")).unwrap();
    }
}

/// What [`in_rolled_back_subtransaction`] gave, but a cancel (a user's, or a statement
/// timeout) it caught ends the statement all the same, as PL/pgSQL's `WHEN OTHERS` does not
/// catch `query_canceled`: whoever goes on past a statement it could not plan must not go on
/// past one. (The rest of the statement is no longer bounded once the timeout has fired.)
pub fn unless_canceled<R>(result: Result<R, (String, String)>) -> Result<R, (String, String)> {
    match result {
        Err((message, sqlstate)) if sqlstate == "57014" => {
            errors::raise(pgrx::PgSqlErrorCode::ERRCODE_QUERY_CANCELED, message, None)
        }
        other => other,
    }
}

/// Runs `body` in an internal subtransaction that is always rolled back, so nothing it did
/// (locks included) outlives it. An ERROR inside comes back as `Err(message)`.
pub fn in_rolled_back_subtransaction<R>(body: impl FnOnce() -> R) -> Result<R, (String, String)> {
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let result = PgTryBuilder::new(AssertUnwindSafe(|| Ok(body())))
            .catch_others(|caught| {
                Err(match caught {
                    pg_sys::panic::CaughtError::PostgresError(r)
                    | pg_sys::panic::CaughtError::ErrorReport(r)
                    | pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => {
                        (r.message().to_string(), sqlstate(r.sql_error_code()))
                    }
                })
            })
            .execute();
        pg_sys::RollbackAndReleaseCurrentSubTransaction();
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}
