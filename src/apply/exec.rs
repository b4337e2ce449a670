//! Running one statement as a client's top-level statement would run, from a background worker:
//! `CREATE INDEX CONCURRENTLY` and `DROP INDEX CONCURRENTLY` refuse to run inside a
//! transaction block or a function, and manage their own transactions. This is what the
//! server's simple-query loop does (postgres.c, exec_simple_query): parse, analyse, plan, run in
//! an unnamed portal with isTopLevel set, commit.

use crate::errors;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::ffi::CString;
use std::panic::AssertUnwindSafe;

/// Runs `sql` (one statement) at top level, outside any transaction block. Must be called with
/// no transaction open. An ERROR comes back as `Err(message)`, with the transaction aborted.
pub fn run_top_level(sql: &str) -> Result<(), String> {
    let text = CString::new(sql).map_err(|_| "the statement contains a NUL byte".to_string())?;
    // Parse and plan trees must outlive the transaction: CONCURRENTLY commits and starts
    // transactions of its own while the portal still walks them (the server keeps them in
    // MessageContext for the same reason).
    let trees = PgMemoryContexts::new("optischema top-level statement");
    let trees_context = trees.value();
    let result = PgTryBuilder::new(AssertUnwindSafe(|| unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::MemoryContextSwitchTo(trees_context);
        let parsed = pg_sys::pg_parse_query(text.as_ptr());
        let count = parsed.as_ref().map(|l| l.length).unwrap_or(0);
        if count != 1 {
            errors::not_one_statement(count as usize);
        }
        let raw: *mut pg_sys::RawStmt = (*(*parsed).elements).ptr_value.cast();
        let snapshot = pg_sys::analyze_requires_snapshot(raw);
        if snapshot {
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        }
        let queries = pg_sys::pg_analyze_and_rewrite_fixedparams(
            raw,
            text.as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
        );
        let plans = pg_sys::pg_plan_queries(
            queries,
            text.as_ptr(),
            pg_sys::CURSOR_OPT_PARALLEL_OK as i32,
            std::ptr::null_mut(),
        );
        if snapshot {
            pg_sys::PopActiveSnapshot();
        }
        let portal = pg_sys::CreatePortal(c"".as_ptr(), true, true);
        (*portal).visible = false;
        pg_sys::PortalDefineQuery(
            portal,
            std::ptr::null(),
            text.as_ptr(),
            pg_sys::CreateCommandTag((*raw).stmt),
            plans,
            std::ptr::null_mut(),
        );
        pg_sys::PortalStart(portal, std::ptr::null_mut(), 0, std::ptr::null_mut());
        let receiver = pg_sys::CreateDestReceiver(pg_sys::CommandDest::DestNone);
        let mut completion = pg_sys::QueryCompletion::default();
        pg_sys::PortalRun(
            portal,
            i64::MAX as _,
            true,
            true,
            receiver,
            receiver,
            &mut completion,
        );
        if let Some(destroy) = (*receiver).rDestroy {
            destroy(receiver);
        }
        pg_sys::PortalDrop(portal, false);
        pg_sys::CommitTransactionCommand();
        Ok(())
    }))
    .catch_others(|caught| {
        Err(match caught {
            pg_sys::panic::CaughtError::PostgresError(r)
            | pg_sys::panic::CaughtError::ErrorReport(r)
            | pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => r.message().to_string(),
        })
    })
    .execute();
    if result.is_err() {
        unsafe { pg_sys::AbortCurrentTransaction() };
    }
    drop(trees);
    result
}
