//! What the backend dropping a database or the extension does for OptiSchema's worker there.
//!
//! PostgreSQL never tells a background worker that its database is being dropped: `DROP
//! DATABASE` waits five seconds for the other sessions to leave and then fails. So the dropping
//! backend itself, in the object access hook that runs before that wait (with the database's
//! lock held, so no new worker can connect), asks the worker to leave and waits for it, at most
//! [`LEAVE_WITHIN`]. The drop may still fail later: the database is served again when the
//! dropping transaction aborts.

use super::registry::{self, State};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};
use std::time::{Duration, Instant};

/// How long a dropping backend waits for the worker to leave.
pub const LEAVE_WITHIN: Duration = Duration::from_secs(2);

static mut PREV_OBJECT_ACCESS: pg_sys::object_access_hook_type = None;

/// Installs the object access hook. Called from `_PG_init` while preloading.
pub fn install() {
    unsafe {
        PREV_OBJECT_ACCESS = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(object_access);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn object_access(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: ::core::ffi::c_int,
    arg: *mut ::core::ffi::c_void,
) {
    unsafe {
        if let Some(prev) = PREV_OBJECT_ACCESS {
            prev(access, class_id, object_id, sub_id, arg);
        }
    }
    if access != pg_sys::ObjectAccessType::OAT_DROP || sub_id != 0 {
        return;
    }
    if class_id == pg_sys::DatabaseRelationId {
        leave(object_id.to_u32(), Dropped::Database);
    } else if class_id == pg_sys::ExtensionRelationId && is_optischema(object_id) {
        leave(unsafe { pg_sys::MyDatabaseId }.to_u32(), Dropped::Extension);
    }
}

fn is_optischema(extension: pg_sys::Oid) -> bool {
    unsafe { pg_sys::get_extension_oid(c"optischema".as_ptr(), true) == extension }
}

#[derive(Clone, Copy)]
enum Dropped {
    Database,
    Extension,
}

/// Stops the worker of `dbid` and keeps others from starting there until the transaction ends.
fn leave(dbid: u32, dropped: Dropped) {
    // None: a database OptiSchema never heard of, kept from being served only while it drops
    let before = registry::entries()
        .into_iter()
        .find(|e| e.dbid == dbid)
        .map(|e| e.state);
    if !registry::set_state(dbid, State::Dropping) {
        return; // never served: the table is full and it has no worker of ours
    }
    register_xact_callback(PgXactCallbackEvent::Commit, move || {
        match dropped {
            Dropped::Database => registry::forget(dbid),
            Dropped::Extension => {
                registry::set_state(dbid, State::NoExtension);
            }
        }
        registry::wake_launcher();
    });
    register_xact_callback(PgXactCallbackEvent::Abort, move || {
        match before {
            Some(state) => {
                registry::set_state(dbid, state);
            }
            None => registry::forget(dbid),
        }
        registry::wake_launcher();
    });
    if registry::stop_worker(dbid).is_none() {
        return;
    }
    let deadline = Instant::now() + LEAVE_WITHIN;
    while registry::has_worker(dbid) && Instant::now() < deadline {
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                10,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
        }
        pg_sys::check_for_interrupts!();
    }
}

/// Called by the install script: this database is served from the commit of `CREATE
/// EXTENSION` on, without a restart.
#[pg_extern(volatile)]
fn serve_this_database() {
    let dbid = unsafe { pg_sys::MyDatabaseId }.to_u32();
    register_xact_callback(PgXactCallbackEvent::Commit, move || {
        registry::set_state(dbid, State::Served);
        // what the home database kept of this database's statements until now
        registry::want_catch_up(dbid);
        registry::wake_launcher();
    });
}
