//! The databases OptiSchema knows, in shared memory: whether each is served (the extension is
//! created there), the worker serving it now, and the requests to stop it.
//!
//! Every backend may write here: the one running `CREATE EXTENSION` (a database to serve), the
//! one dropping the extension or the whole database (a worker to stop at once), the workers
//! themselves (started, stopped), the launcher (what it started). All under one LWLock, held
//! for a few loads and stores only; the launcher is woken through its latch.

use crate::shmem::Shared;
use pgrx::pg_sys;
use std::ffi::CStr;

/// Databases the table can hold; a server with more is served for the first ones only, and
/// `status()` says so.
pub const DATABASES: usize = 256;
const SHMEM_NAME: &CStr = c"optischema databases";

/// What is known of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum State {
    /// Seen with statements, not yet visited: its worker finds out whether the extension is there.
    Unknown = 0,
    /// The extension is created there.
    Served = 1,
    /// A worker found no extension there; `CREATE EXTENSION` makes it served again.
    NoExtension = 2,
    /// Being dropped (the database or the extension): no worker may start there until the
    /// dropping transaction is over.
    Dropping = 3,
}

impl State {
    fn from_u32(v: u32) -> State {
        match v {
            1 => State::Served,
            2 => State::NoExtension,
            3 => State::Dropping,
            _ => State::Unknown,
        }
    }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// 0: a free slot.
    dbid: u32,
    state: u32,
    /// The worker serving the database now, 0 when none.
    pid: i32,
    /// Set when the worker must leave: it does between two transactions.
    stop: bool,
    /// A user queued work here (an action, an announcement) since the last worker started.
    requested: bool,
    /// The database has taken nothing yet: the sampler hands it the history the home database
    /// keeps of it (a catch-up batch) instead of this sample's share.
    catch_up: bool,
    /// When work queued there comes due (a question to the model to ask again), in seconds
    /// since the epoch; 0 when none waits.
    due: u64,
}

impl State {
    /// How `databases()` and `status()` name the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Unknown => "not visited yet",
            State::Served => "served",
            State::NoExtension => "no extension",
            State::Dropping => "dropping",
        }
    }
}

/// A copy of one database's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub dbid: u32,
    pub state: State,
    pub pid: i32,
    pub stop: bool,
    pub requested: bool,
    pub catch_up: bool,
    pub due: u64,
}

impl Entry {
    /// Whether its worker was asked for: by a user now, or by work that is due at `now_s`.
    pub fn asked(&self, now_s: u64) -> bool {
        self.requested || (self.due != 0 && self.due <= now_s)
    }
}

/// The table proper, plain data so that its rules are tested without a server.
#[repr(C)]
struct Table {
    /// pgprocno of the launcher, -1 when none runs.
    launcher: i32,
    slots: [Slot; DATABASES],
}

impl Table {
    fn find(&self, dbid: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.dbid == dbid && dbid != 0)
    }

    /// The slot of `dbid`, taken if it had none; None when the table is full.
    fn slot_mut(&mut self, dbid: u32) -> Option<&mut Slot> {
        let at = match self.find(dbid) {
            Some(at) => at,
            None => {
                let free = self.slots.iter().position(|s| s.dbid == 0)?;
                self.slots[free] = Slot {
                    dbid,
                    ..Slot::default()
                };
                free
            }
        };
        Some(&mut self.slots[at])
    }

    fn entries(&self) -> Vec<Entry> {
        self.slots
            .iter()
            .filter(|s| s.dbid != 0)
            .map(|s| Entry {
                dbid: s.dbid,
                state: State::from_u32(s.state),
                pid: s.pid,
                stop: s.stop,
                requested: s.requested,
                catch_up: s.catch_up,
                due: s.due,
            })
            .collect()
    }

    fn set_state(&mut self, dbid: u32, state: State) -> bool {
        match self.slot_mut(dbid) {
            Some(slot) => {
                slot.state = state as u32;
                true
            }
            None => false,
        }
    }

    /// A worker may start in `dbid` unless it is being dropped, has no extension, or has one.
    fn may_start(&self, dbid: u32) -> bool {
        match self.find(dbid) {
            None => true,
            Some(at) => {
                let s = &self.slots[at];
                s.pid == 0 && matches!(State::from_u32(s.state), State::Unknown | State::Served)
            }
        }
    }

    /// A worker starting in `dbid` takes its slot: refused if another one has it or the
    /// database is being dropped.
    fn attach(&mut self, dbid: u32, pid: i32) -> bool {
        if !self.may_start(dbid) && self.find(dbid).is_some_and(|at| self.slots[at].pid != pid) {
            return false;
        }
        match self.slot_mut(dbid) {
            Some(slot) => {
                slot.pid = pid;
                slot.stop = false;
                // what was asked until now is this worker's to do
                slot.requested = false;
                slot.due = 0;
                true
            }
            None => false,
        }
    }

    fn detach(&mut self, dbid: u32, pid: i32) {
        if let Some(at) = self.find(dbid) {
            if self.slots[at].pid == pid {
                self.slots[at].pid = 0;
                self.slots[at].stop = false;
            }
        }
    }

    fn request(&mut self, dbid: u32) {
        if let Some(slot) = self.slot_mut(dbid) {
            slot.requested = true;
        }
    }

    /// Work queued in `dbid` comes due at `at` (seconds since the epoch): the earliest counts.
    fn request_at(&mut self, dbid: u32, at: u64) {
        if let Some(slot) = self.slot_mut(dbid) {
            slot.due = if slot.due == 0 { at } else { slot.due.min(at) };
        }
    }

    fn set_catch_up(&mut self, dbid: u32, wanted: bool) {
        if let Some(slot) = self.slot_mut(dbid) {
            slot.catch_up = wanted;
        }
    }

    /// Asks the worker of `dbid` to leave; gives its pid.
    fn request_stop(&mut self, dbid: u32) -> Option<i32> {
        let at = self.find(dbid)?;
        let slot = &mut self.slots[at];
        (slot.pid != 0).then(|| {
            slot.stop = true;
            slot.pid
        })
    }

    fn forget(&mut self, dbid: u32) {
        if let Some(at) = self.find(dbid) {
            self.slots[at] = Slot::default();
        }
    }
}

static TABLE: Shared<Table> = unsafe {
    // every field of the table is a number or a bool
    Shared::new(SHMEM_NAME, |table| table.launcher = -1)
};

/// Asks for the table's shared memory. Called from `_PG_init` while preloading.
pub fn install() {
    TABLE.install();
}

/// Runs `f` on the table under its lock (plain loads and stores only); None when the library
/// was not preloaded.
fn locked<T>(mode: pg_sys::LWLockMode::Type, f: impl FnOnce(&mut Table) -> T) -> Option<T> {
    TABLE.locked(mode, f)
}

fn exclusive<T>(f: impl FnOnce(&mut Table) -> T) -> Option<T> {
    TABLE.exclusive(f)
}

/// Every database known, for the launcher and `status()`.
pub fn entries() -> Vec<Entry> {
    locked(pg_sys::LWLockMode::LW_SHARED, |t| t.entries()).unwrap_or_default()
}

pub fn may_start(dbid: u32) -> bool {
    locked(pg_sys::LWLockMode::LW_SHARED, |t| t.may_start(dbid)).unwrap_or(false)
}

pub fn set_state(dbid: u32, state: State) -> bool {
    exclusive(|t| t.set_state(dbid, state)).unwrap_or(false)
}

/// The calling worker serves `dbid` from now on; false when it must not (another worker does,
/// or the database is being dropped).
pub fn attach(dbid: u32) -> bool {
    let pid = unsafe { pg_sys::MyProcPid };
    exclusive(|t| t.attach(dbid, pid)).unwrap_or(false)
}

pub fn detach(dbid: u32) {
    let pid = unsafe { pg_sys::MyProcPid };
    exclusive(|t| t.detach(dbid, pid));
    wake_launcher();
}

/// Whether the calling worker was asked to leave `dbid`.
pub fn stop_requested(dbid: u32) -> bool {
    let pid = unsafe { pg_sys::MyProcPid };
    locked(pg_sys::LWLockMode::LW_SHARED, |t| {
        t.find(dbid)
            .is_none_or(|at| t.slots[at].stop || t.slots[at].pid != pid)
    })
    .unwrap_or(true)
}

pub fn forget(dbid: u32) {
    exclusive(|t| t.forget(dbid));
}

/// `dbid` has taken nothing yet: the next sample hands it a catch-up batch.
pub fn want_catch_up(dbid: u32) {
    exclusive(|t| t.set_catch_up(dbid, true));
}

/// The catch-up batch of `dbid` is written.
pub fn caught_up(dbid: u32) {
    exclusive(|t| t.set_catch_up(dbid, false));
}

/// A user queued work in `dbid`: its worker is started at the launcher's next round.
pub fn request(dbid: u32) {
    exclusive(|t| t.request(dbid));
    wake_launcher();
}

/// Asks for a turn of `dbid` at `at` (seconds since the epoch), when work queued there is due.
pub fn request_at(dbid: u32, at: u64) {
    exclusive(|t| t.request_at(dbid, at));
}

/// Asks the worker of `dbid` to leave at once: the flag for between transactions, a cancel
/// for the statement it may be running. Gives its pid, to wait for.
pub fn stop_worker(dbid: u32) -> Option<i32> {
    let pid = exclusive(|t| t.request_stop(dbid)).flatten()?;
    unsafe {
        libc_kill(pid, SIGINT);
    }
    Some(pid)
}

/// Whether a worker still serves `dbid`.
pub fn has_worker(dbid: u32) -> bool {
    locked(pg_sys::LWLockMode::LW_SHARED, |t| {
        t.find(dbid).is_some_and(|at| t.slots[at].pid != 0)
    })
    .unwrap_or(false)
}

/// The calling process is the launcher: others wake it through its latch.
pub fn become_launcher() {
    let procno = unsafe { (*pg_sys::MyProc).pgprocno };
    exclusive(|t| t.launcher = procno);
}

pub fn wake_launcher() {
    if let Some(procno) = locked(pg_sys::LWLockMode::LW_SHARED, |t| t.launcher) {
        if procno >= 0 {
            unsafe { pg_sys::ProcSendSignal(procno) };
        }
    }
}

const SIGINT: i32 = 2;
unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Box<Table> {
        Box::new(Table {
            launcher: -1,
            slots: [Slot::default(); DATABASES],
        })
    }

    #[test]
    fn one_worker_per_database_and_none_while_it_is_dropped() {
        let mut t = table();
        assert!(t.may_start(5));
        assert!(t.attach(5, 100));
        assert!(!t.may_start(5));
        // a second worker for the same database is refused, the same one may attach again
        assert!(!t.attach(5, 101));
        assert!(t.attach(5, 100));
        assert_eq!(t.request_stop(5), Some(100));
        assert!(t.entries()[0].stop);
        t.set_state(5, State::Dropping);
        t.detach(5, 100);
        assert!(!t.may_start(5));
        assert!(!t.attach(5, 102));
        // the drop rolled back: served again
        t.set_state(5, State::Served);
        assert!(t.attach(5, 102));
        // a worker that is not the slot's cannot detach it
        t.detach(5, 100);
        assert_eq!(t.entries()[0].pid, 102);
        assert_eq!(t.request_stop(6), None);
        // a request waits for the next worker, which takes it on
        t.detach(5, 102);
        t.request(5);
        assert!(t.entries()[0].requested);
        assert!(t.attach(5, 103));
        assert!(!t.entries()[0].requested);
    }

    #[test]
    fn work_due_later_asks_for_a_turn_when_it_is_due() {
        let mut t = table();
        t.request_at(5, 1_000);
        t.request_at(5, 1_060);
        let e = t.entries()[0];
        // the earliest counts; not asked for before it
        assert_eq!(e.due, 1_000);
        assert!(!e.asked(999));
        assert!(e.asked(1_000));
        // the worker that starts takes it on
        assert!(t.attach(5, 100));
        assert!(!t.entries()[0].asked(u64::MAX));
    }

    #[test]
    fn a_catch_up_is_wanted_until_it_is_written_and_a_forgotten_database_wants_none() {
        let mut t = table();
        t.set_catch_up(7, true);
        assert!(t.entries()[0].catch_up);
        // the worker of a database that still has taken nothing asks again: one flag
        t.set_catch_up(7, true);
        assert_eq!(t.entries().len(), 1);
        t.set_catch_up(7, false);
        assert!(!t.entries()[0].catch_up);
        t.set_catch_up(7, true);
        t.forget(7);
        assert!(t.entries().is_empty());
    }

    #[test]
    fn a_database_without_the_extension_waits_and_a_full_table_refuses() {
        let mut t = table();
        t.set_state(7, State::NoExtension);
        assert!(!t.may_start(7));
        t.set_state(7, State::Served);
        assert!(t.may_start(7));
        t.forget(7);
        assert!(t.entries().is_empty());
        for dbid in 1..=DATABASES as u32 {
            assert!(t.set_state(dbid, State::Served));
        }
        assert!(!t.set_state(10_000, State::Served));
        assert!(!t.attach(10_000, 1));
        assert_eq!(t.entries().len(), DATABASES);
        assert!(t.find(0).is_none());
    }
}
