//! ERRORs as PostgreSQL itself raises them: every ERROR OptiSchema raises goes through here with
//! a SQLSTATE from PostgreSQL's own list (`src/backend/utils/errcodes.txt`) and, when the caller
//! can do something about it, a HINT.
//!
//! | class | when |
//! |---|---|
//! | 22023 invalid_parameter_value | a bad argument (the message says which, the hint what to give) |
//! | 0A000 feature_not_supported | something OptiSchema does not do (apply a rewrite, plan a utility statement) |
//! | 42501 insufficient_privilege | the caller may not do or see this |
//! | 42601 syntax_error | a text that is not exactly one statement |
//! | 42704 / 42P01 / 3F000 undefined_object / _table / _schema | a role, a relation or OptiSchema's schema is gone |
//! | XX000 internal_error | OptiSchema's own reading or writing failed (`what` says which) |
//!
//! Errors the server raises itself (a missing column in a what-if index, a statement timeout)
//! keep their own SQLSTATE.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// A rejected argument: what is wrong, and what to give instead. Pure, so the argument checks
/// that build it are unit-tested without a server.
#[derive(Debug, PartialEq)]
pub struct ArgError {
    pub message: String,
    pub hint: String,
}

/// Raises an ERROR with `code`, `message` and, if any, `hint`.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>, hint: Option<&str>) -> ! {
    let mut report = ErrorReport::new(code, message.into(), "optischema");
    if let Some(hint) = hint {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// SQLSTATE 22023 with the message and hint of `e`.
pub fn reject(e: ArgError) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        e.message,
        Some(&e.hint),
    )
}

/// The checked value, or the ERROR its check gave.
pub fn valid<T>(checked: Result<T, ArgError>) -> T {
    checked.unwrap_or_else(|e| reject(e))
}

/// SQLSTATE 0A000: something OptiSchema does not do.
pub fn unsupported(message: impl Into<String>, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        message,
        Some(hint),
    )
}

/// SQLSTATE 42501.
pub fn insufficient_privilege(message: impl Into<String>, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        message,
        Some(hint),
    )
}

/// SQLSTATE 42601: a text that is not exactly one statement.
pub fn not_one_statement(found: usize) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
        format!("expected one statement, found {found}"),
        Some("Give one statement, without a semicolon between two."),
    )
}

/// SQLSTATE 22023 for a text argument holding a NUL byte, which no C string can carry.
pub fn nul_byte(what: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("{what} contains a NUL byte"),
        None,
    )
}

/// SQLSTATE XX000: OptiSchema's own work failed (`what`: "reading history", ...), with the
/// error that made it fail.
pub fn internal(what: &str, e: impl std::fmt::Display) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("optischema: {what} failed: {e}"),
        None,
    )
}
