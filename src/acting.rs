//! Running a user's statement, or planning it, with that user's privileges and no more.
//!
//! Planning folds immutable functions of constants, EXPLAIN ANALYZE runs the statement, a
//! rewrite check runs two, a partial index predicate is evaluated: each runs code a user wrote.
//! The workers are superusers, so that code runs as the role that ran the statement, inside a
//! security-restricted operation, the way PostgreSQL runs index expressions during VACUUM or
//! CREATE INDEX: `SET ROLE`, `set_config('role', ...)`, `SET SESSION AUTHORIZATION`, PREPARE,
//! LISTEN and temporary tables all fail there, so the code cannot climb back to the superuser.
//! A statement whose role is unknown or gone is not planned at all.

use crate::errors;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use std::ffi::CString;

/// Whose privileges user code runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Actor<'a> {
    /// The role that ran a statement the workers found (pg_stat_statements' userid).
    Role(&'a str),
    /// The caller of an SQL function, for text the caller gave.
    Caller,
}

impl<'a> Actor<'a> {
    /// The actor for a statement run by `role`, where None means the role is not known (gone
    /// since, or never recorded).
    pub fn of_statement(role: Option<&'a str>) -> Result<Actor<'a>, String> {
        role.map(Actor::Role)
            .ok_or_else(|| UNKNOWN_ROLE.to_string())
    }
}

/// Why a statement of an unknown role is not planned.
pub const UNKNOWN_ROLE: &str =
    "the role that ran the statement is unknown or was dropped: it is not planned or run";

/// Acts as `actor` inside a security-restricted operation for the rest of the current
/// subtransaction; another role's statement gets the planning search_path (see
/// [`use_planning_path`]), the caller's own text the caller's. Call it only inside a subtransaction that ends before the caller goes on
/// (every caller uses `in_rolled_back_subtransaction`): ending it, by commit or rollback,
/// gives back the user and security context that were in force before.
///
/// Raises when the role does not exist (SQLSTATE 42704).
pub fn act_as(actor: Actor<'_>) {
    let role = match actor {
        Actor::Caller => caller(),
        Actor::Role(name) => {
            use_planning_path();
            role_oid(name)
        }
    };
    switch_user(role, true);
}

fn role_oid(name: &str) -> Oid {
    let Ok(c_name) = CString::new(name) else {
        errors::nul_byte("a role name")
    };
    let oid = unsafe { pg_sys::get_role_oid(c_name.as_ptr(), true) };
    if oid == Oid::INVALID {
        errors::raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("role \"{name}\" does not exist: {UNKNOWN_ROLE}"),
            None,
        );
    }
    oid
}

/// Runs `body` as the owner of table `relid` inside a security-restricted operation, the way
/// CREATE INDEX evaluates an index's expressions and predicate; the user and security context
/// in force before come back afterwards, also when `body` raises.
pub fn as_table_owner<R>(relid: Oid, body: impl FnOnce() -> R) -> R {
    let owner = unsafe {
        let rel = pg_sys::RelationIdGetRelation(relid);
        if rel.is_null() {
            errors::raise(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("the relation with OID {} does not exist", u32::from(relid)),
                None,
            );
        }
        let owner = (*(*rel).rd_rel).relowner;
        pg_sys::RelationClose(rel);
        owner
    };
    as_user(owner, true, body)
}

/// The role the API functions write OptiSchema's tables as: the owner of schema `optischema`
/// (the superuser that created the extension). No other role may write them.
fn extension_owner() -> Oid {
    let owner = Spi::get_one::<Oid>(
        "SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'optischema'",
    )
    .ok()
    .flatten();
    owner.unwrap_or_else(|| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME, // 3F000, undefined_schema
            "optischema: the extension's schema is missing",
            Some("CREATE EXTENSION optischema in this database."),
        )
    })
}

/// The role calling the SQL function now (what `current_user` says).
pub fn caller() -> Oid {
    unsafe { pg_sys::GetUserId() }
}

/// The name of role `oid` (its OID as text if it has none).
pub fn role_name(oid: Oid) -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(oid, true);
        if name.is_null() {
            u32::from(oid).to_string()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// Raises SQLSTATE 42501 unless `user` is a superuser or a member of `role`.
pub fn require_member(user: Oid, role: &str) {
    let Ok(c_role) = CString::new(role) else {
        errors::nul_byte("a role name")
    };
    let allowed = unsafe {
        pg_sys::superuser_arg(user) || {
            let oid = pg_sys::get_role_oid(c_role.as_ptr(), true);
            oid != Oid::INVALID && pg_sys::is_member_of_role(user, oid)
        }
    };
    if !allowed {
        errors::insufficient_privilege(
            format!("permission denied: only members of {role} may do this"),
            &format!("GRANT {role} TO the role that should be allowed."),
        );
    }
}

/// Runs `body` as the extension's owner: the API functions that change OptiSchema's tables
/// (apply, revert, dismiss, ask, reset, analyze_now) check their caller first, then write
/// through here, so that no other role needs, or gets, INSERT, UPDATE or DELETE on them. The
/// user in force before comes back afterwards, also when `body` raises.
pub fn as_extension_owner<R>(body: impl FnOnce() -> R) -> R {
    as_user(extension_owner(), false, body)
}

/// Makes `user` the current user (inside a security-restricted operation when `restricted`);
/// returns the user and security context it replaced.
fn switch_user(user: Oid, restricted: bool) -> (Oid, std::ffi::c_int) {
    let (mut before, mut context) = (Oid::INVALID, 0 as std::ffi::c_int);
    let mut flags = pg_sys::SECURITY_LOCAL_USERID_CHANGE as std::ffi::c_int;
    if restricted {
        flags |= pg_sys::SECURITY_RESTRICTED_OPERATION as std::ffi::c_int;
    }
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut before, &mut context);
        pg_sys::SetUserIdAndSecContext(user, context | flags);
    }
    (before, context)
}

/// Runs `body` as `user` (restricted or not), giving back the user and security context in
/// force before afterwards, also when `body` raises.
fn as_user<R>(user: Oid, restricted: bool, body: impl FnOnce() -> R) -> R {
    let (before, context) = switch_user(user, restricted);
    PgTryBuilder::new(std::panic::AssertUnwindSafe(body))
        .finally(|| unsafe { pg_sys::SetUserIdAndSecContext(before, context) })
        .execute()
}

/// The search_path statements are planned and run with, for the rest of the current
/// (sub)transaction: the database's own (`ALTER DATABASE ... SET search_path`), or PostgreSQL's
/// default `"$user", public`, with `pg_temp` last. Never the caller's: a session's path or its
/// temporary tables must not decide what another role's statement resolves to.
pub fn use_planning_path() {
    let path = Spi::get_one::<String>(include_str!("../sql/acting/planning_path.sql"))
        .ok()
        .flatten()
        .unwrap_or_else(|| "\"$user\", public".into());
    let with_temp_last = format!("{path}, pg_temp");
    let value =
        CString::new(with_temp_last).unwrap_or_else(|_| c"\"$user\", public, pg_temp".into());
    crate::plans::explain::set_local(c"search_path", &value);
}
